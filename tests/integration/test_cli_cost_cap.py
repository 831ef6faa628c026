"""`--max-cost` on the command line: `plan` shows the estimate against the cap, `run` is refused over it."""

from __future__ import annotations

import json
from pathlib import Path

from havachat_local.cli import ExitCode
from tests.fakes.fake_claude import FakeClaude
from tests.integration.test_cli import SAMPLES, claude_url, fake, havachat, with_claude

__all__ = ["claude_url", "fake"]  # the fixtures, shared with test_cli


def test_plan_shows_the_estimate_against_the_cap() -> None:
    args = ("plan", str(SAMPLES / "zh_hsk1.csv"), "-l", "zh", "--level", "HSK1", "--json")

    under, over = (json.loads(havachat(*args, "--max-cost", cap).stdout) for cap in ("100", "0.05"))

    assert (under["max_cost_usd"], under["over_cost_cap"]) == (100, False)
    assert (over["max_cost_usd"], over["over_cost_cap"]) == (0.05, True)


def test_run_over_the_cap_is_refused_before_any_call(fake: FakeClaude, claude_url: str, tmp_path: Path) -> None:
    done = havachat(
        "run",
        str(SAMPLES / "zh_hsk1.csv"),
        "-l",
        "zh",
        "--level",
        "HSK1",
        "--max-cost",
        "0.05",
        "--out",
        str(tmp_path / "out"),
        env=with_claude(claude_url),
    )

    assert done.returncode == ExitCode.FAILED, done.stderr
    assert "over its cost cap of $0.05" in " ".join(done.stderr.split())
    assert fake.requests == []
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "FAILED" and run["error"]["Error"] == "CostCapExceeded"

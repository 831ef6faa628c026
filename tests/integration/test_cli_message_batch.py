"""`--llm-mode batch` on the command line: `plan` estimates at batch prices, `run` goes through a Message Batch."""

from __future__ import annotations

import json
from pathlib import Path

from havachat_local.cli import ExitCode
from tests.fakes.fake_claude import FakeClaude
from tests.integration.test_cli import SAMPLES, claude_url, fake, havachat, with_claude

__all__ = ["claude_url", "fake"]  # the fixtures, shared with test_cli

HSK1 = ("-l", "zh", "--level", "HSK1")


def test_plan_estimates_a_batch_mode_run_at_batch_prices() -> None:
    args = ("plan", str(SAMPLES / "zh_hsk1.csv"), *HSK1, "--json")

    sync, batch = (json.loads(havachat(*args, "--llm-mode", mode).stdout) for mode in ("sync", "batch"))

    assert (sync["llm_mode"], batch["llm_mode"]) == ("sync", "batch")
    assert 0 < batch["estimated_cost_usd"] < sync["estimated_cost_usd"]


def test_run_in_batch_mode_sends_the_batches_as_one_message_batch(
    fake: FakeClaude, claude_url: str, tmp_path: Path
) -> None:
    done = havachat(
        "run",
        str(SAMPLES / "zh_hsk1.csv"),
        *HSK1,
        "--llm-mode",
        "batch",
        "--out",
        str(tmp_path / "out"),
        env={**with_claude(claude_url), "HAVACHAT_BATCH_POLL_SECONDS": "0"},
    )

    assert done.returncode == ExitCode.OK, done.stderr
    assert len(fake.batch_requests) == 9 and fake.requests == [] and fake.warm_ups == []
    summary = json.loads((tmp_path / "out" / "run.json").read_text())
    assert summary["status"] == "SUCCEEDED" and summary["items_total"] > 0


def test_batch_mode_without_the_anthropic_api_says_the_run_goes_on_in_sync_mode(tmp_path: Path) -> None:
    done = havachat(
        "run",
        str(SAMPLES / "zh_hsk1.csv"),
        *HSK1,
        "--llm-mode",
        "batch",
        "--provider",
        "offline",
        "--out",
        str(tmp_path),
    )

    assert done.returncode == ExitCode.OK, done.stderr
    assert "Message Batches mode needs the Anthropic API" in " ".join(done.stderr.split())
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "SUCCEEDED"

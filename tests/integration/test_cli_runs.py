"""Local runs that remember: `havachat run` twice, a killed run resumed, `runs`, `show`, `--content`, `--out`,
and the terminal's edges (80 columns, usage errors, a closed pipe). Real subprocesses on the test's own
HAVACHAT_HOME (tests/conftest.py), the fake Claude on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from havachat.pipeline.contracts import RunStatus
from havachat_local.cli import ExitCode
from havachat_local.outputs import run_records
from havachat_local.state import LocalState
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.fake_content import install
from tests.helpers import ROOT
from tests.integration.test_cli import SAMPLES, havachat, with_claude

HSK1 = SAMPLES / "zh_hsk1.csv"
RUN_HSK1 = ("run", str(HSK1), "-l", "zh", "--level", "HSK1")


@pytest.fixture
def fake() -> FakeClaude:
    return install(FakeClaude())


@pytest.fixture
def claude_url(fake: FakeClaude) -> Iterator[str]:
    with fake.serve() as url:
        yield url


@pytest.fixture
def home() -> Path:
    return Path(os.environ["HAVACHAT_HOME"])


def _run_json(directory: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((directory / "run.json").read_text(encoding="utf-8"))
    return document


def test_the_same_run_twice_makes_no_second_call_and_keeps_both_runs(
    fake: FakeClaude, claude_url: str, home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    narrow = {**with_claude(claude_url), "COLUMNS": "80"}

    first = havachat(*RUN_HSK1, "--out", str(out), env=narrow)
    assert first.returncode == ExitCode.OK, first.stderr[-2000:]
    first_run = _run_json(out)
    paid = len(fake.requests)
    assert paid >= 9, "a call per batch"

    second = havachat(*RUN_HSK1, "--out", str(out), "--content", env=narrow)

    # The second run made no Stage 1 call and says which run it reused; --out holds the latest run
    assert second.returncode == ExitCode.OK, second.stderr[-2000:]
    assert sorted(b["tool_choice"]["name"] for b in fake.requests[paid:]) == ["ConversationBatch", "StoryBatch"]
    second_run = _run_json(out)
    assert second_run["run_id"] != first_run["run_id"] and second_run["reused_from"] == first_run["run_id"]
    assert f"reused run {first_run['run_id']}" in " ".join(second.stdout.split())
    assert json.loads((out / "content.json").read_text(encoding="utf-8"))["run_id"] == second_run["run_id"]

    # and the first run's outputs are kept whole in its own directory
    kept = home / "runs" / str(first_run["run_id"])
    assert _run_json(kept)["run_id"] == first_run["run_id"] and (kept / "items.jsonl").stat().st_size > 0
    assert {"items.jsonl", "run.json", "lambda.log", "report.html"} <= {p.name for p in kept.iterdir()}

    # At 80 columns no figure is cut: the total cost and input tokens appear whole
    usage = first_run["usage"]
    assert isinstance(usage, dict)
    assert "…" not in first.stdout + second.stdout
    assert f"{first_run['cost_usd']:.4f}" in first.stdout and f"{usage['input_tokens']:,}" in first.stdout

    # `runs` lists both, `show` prints the first's summary
    listed = havachat("runs", env={"COLUMNS": "80"})
    assert listed.returncode == ExitCode.OK and "…" not in listed.stdout
    assert str(first_run["run_id"]) in listed.stdout and str(second_run["run_id"]) in listed.stdout
    shown = havachat("show", str(first_run["run_id"])[:-3], env={"COLUMNS": "80"})
    assert shown.returncode == ExitCode.OK, shown.stderr
    assert f"Run {first_run['run_id']}: SUCCEEDED" in shown.stdout


def test_a_run_killed_mid_way_is_finished_by_resume_with_only_the_missing_call(
    fake: FakeClaude, claude_url: str, home: Path
) -> None:
    # Given a run whose cultural batch is still waiting for Claude when its process is killed
    fake.script(match="Category: cultural", delay=20)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AWS_"))}
    command = [sys.executable, "-m", "havachat_local.cli", *RUN_HSK1]
    env = {**environment, "HAVACHAT_SDK_MAX_RETRIES": "0", **with_claude(claude_url)}
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bucket = home / "aws" / "s3" / "havachat-local-databucket" / "scratch"
    deadline = time.monotonic() + 120
    while len(list(bucket.glob("*/batches/*.json"))) < 8 and time.monotonic() < deadline:
        time.sleep(0.2)
    process.kill()
    process.wait()

    # Then the eight answered batches are on disk, and the run is known
    assert len(list(bucket.glob("*/batches/*.json"))) == 8
    (record,) = run_records(LocalState(home))
    assert record.status is RunStatus.RUNNING
    listed = havachat("runs")
    assert f"{record.run_id}   zh_hsk1.csv   INTERRUPTED" in listed.stdout, listed.stdout
    paid = len(fake.requests)

    # When it is resumed: one call, for the batch that was cut off
    done = havachat("resume", record.run_id, env=with_claude(claude_url))

    assert done.returncode == ExitCode.OK, done.stderr[-2000:]
    assert "was interrupted" in done.stderr
    assert len(fake.requests) == paid + 1 and fake.requests_matching("Category: cultural\n")[-1] is fake.requests[-1]
    assert _run_json(home / "runs" / record.run_id)["status"] == "SUCCEEDED"


def test_out_that_would_lose_another_runs_outputs_or_is_a_file_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "run.json").write_text(json.dumps({"run_id": "elsewhere-0123"}), encoding="utf-8")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")

    for out, says in ((foreign, "run elsewhere-0123"), (a_file, "is a file")):
        done = havachat(*RUN_HSK1, "--out", str(out), "--provider", "offline")
        assert done.returncode == ExitCode.USAGE
        assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr, done.stderr
    assert json.loads((foreign / "run.json").read_text(encoding="utf-8")) == {"run_id": "elsewhere-0123"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("run",), "Missing argument"),
        (("run", str(HSK1), "--bogus"), "No such option: --bogus"),
        (("resume", "no-such-run"), "no run 'no-such-run'"),
        (("show", "no-such-run"), "no run 'no-such-run'"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args: tuple[str, ...], says: str) -> None:
    done = havachat(*args)

    assert done.returncode == ExitCode.USAGE
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr, done.stderr


def test_plan_for_a_provider_without_credentials_says_so_before_any_plan() -> None:
    done = havachat("plan", str(HSK1), "-l", "zh", "--level", "HSK1", "--provider", "anthropic")

    assert done.returncode == ExitCode.MISSING_CREDENTIALS and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "ANTHROPIC_API_KEY" in done.stderr


def test_plan_fits_80_columns_with_every_figure_whole() -> None:
    args = ("plan", str(SAMPLES / "zh_top5000.csv"), "-l", "zh", "--level", "HSK6")
    as_json = json.loads(havachat(*args, "--json").stdout)
    batched = as_json["designs"]["batched"]

    done = havachat(*args, env={"COLUMNS": "80"})

    assert done.returncode == ExitCode.OK and "…" not in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    assert f"{batched['input_tokens']:,}" in done.stdout and f"{batched['cost_usd_cached']:.2f}" in done.stdout


def test_plan_into_a_closed_pipe_exits_0_quietly() -> None:
    command = f"{sys.executable} -m havachat_local.cli plan {SAMPLES / 'zh_top5000.csv'} -l zh --level HSK6 --json"
    done = subprocess.run(
        ["bash", "-c", f"{command} | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )

    assert (done.returncode, done.stderr) == (0, "")

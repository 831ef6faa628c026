"""`--provider offline` beyond Chinese and Japanese: a Spanish run, and Stage 2 content saying it needs an LLM."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from havachat_local.cli import ExitCode, app
from tests.helpers import ROOT

SPANISH = ROOT.parent / "shared" / "data" / "vocab" / "es_cefr_a1.csv"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in [n for n in os.environ if n.startswith(("ANTHROPIC_", "HAVACHAT_")) and n != "HAVACHAT_HOME"]:
        monkeypatch.delenv(name)
    return CliRunner()


def test_an_offline_spanish_run_writes_stress_and_accent_items_then_content_needs_an_llm(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "out"

    done = runner.invoke(
        app, ["run", str(SPANISH), "-l", "es", "--level", "A1", "--out", str(out), "--provider", "offline"]
    )
    content = runner.invoke(app, ["content", str(out), "--provider", "offline"])

    assert done.exit_code == ExitCode.OK, done.stderr[-2000:]
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    items = [json.loads(line) for line in (out / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    assert run["status"] == "SUCCEEDED" and run["generator"] == "offline" and run["usage"]["calls"] == 0
    assert {i["category"] for i in items} == {"pronunciation", "writing_system"}
    assert any(i["title"].startswith("Written accent on the last syllable") for i in items)
    assert content.exit_code == ExitCode.USAGE
    assert "conversations and stories need an LLM" in " ".join(content.stderr.split())
    assert not (out / "content.json").exists()

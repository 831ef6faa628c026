"""The `havachat` command end to end: a real subprocess, the real state machine on moto, and a fake
Claude served on loopback (faked at HTTP only, reached through ANTHROPIC_BASE_URL)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from havachat.models import Category, Example, LearningItem, Provenance
from havachat.vocab import read_vocab_file
from havachat_local.cli import ExitCode
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import ROOT

SAMPLES = ROOT.parent / "shared" / "data" / "vocab"
SAMPLE_RUNS = [
    pytest.param("zh_hsk1.csv", "zh", "HSK1", id="zh_hsk1"),
    pytest.param("ja_jlpt_n5.csv", "ja", "N5", id="ja_jlpt_n5"),
    pytest.param("es_cefr_a1.csv", "es", "A1", id="es_cefr_a1"),
    pytest.param("zh_top5000.csv", "zh", "HSK6", id="zh_top5000", marks=pytest.mark.scale),
    pytest.param("zh_top20000.csv", "zh", "top20000", id="zh_top20000", marks=pytest.mark.scale),
]


@pytest.fixture
def fake() -> FakeClaude:
    return FakeClaude()


@pytest.fixture
def claude_url(fake: FakeClaude) -> Iterator[str]:
    with fake.serve() as url:
        yield url


def havachat(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`havachat ARGS` in a subprocess, on the test's own HAVACHAT_HOME (tests/conftest.py)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "HAVACHAT_", "AWS_"))}
    home = {"HAVACHAT_HOME": os.environ["HAVACHAT_HOME"]}
    return subprocess.run(
        [sys.executable, "-m", "havachat_local.cli", *args],
        env={**base, **home, "HAVACHAT_SDK_MAX_RETRIES": "0", "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )


def with_claude(url: str) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": url}


@pytest.mark.parametrize(("name", "language", "level"), SAMPLE_RUNS)
def test_run_turns_every_sample_file_into_items(
    name: str, language: str, level: str, fake: FakeClaude, claude_url: str, tmp_path: Path
) -> None:
    sample = SAMPLES / name
    words = set(read_vocab_file(sample).words)

    done = havachat(
        "run", str(sample), "-l", language, "--level", level, "--out", str(tmp_path), env=with_claude(claude_url)
    )

    assert done.returncode == ExitCode.OK, done.stderr[-2000:]
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    items = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    assert run["status"] == "SUCCEEDED" and run["failed_batches"] == []
    assert run["word_count"] == len(words)
    assert run["batch_count"] == len(fake.requests)  # one call per batch, and one cache warm-up per chunk
    assert run["usage"]["calls"] == len(fake.requests) + len(fake.warm_ups)
    assert run["batch_count"] % len(Category) == 0, "every chunk gets all nine categories"
    assert run["items_total"] == len(items) == sum(run["counts_by_category"].values()) > 0
    assert set(run["counts_by_category"]) == {c.value for c in Category}
    assert run["usage"]["input_tokens"] > 0 and run["usage"]["output_tokens"] > 0 and run["cost_usd"] > 0
    assert run["wall_seconds"] > 0
    assert all(set(item["source_words"]) <= words and item["language"] == language for item in items)
    assert len({item["id"] for item in items}) == len(items)
    assert "SUCCEEDED" in done.stdout and "total" in done.stdout


def test_one_batch_failing_for_good_ends_partial_with_the_rest_kept(
    fake: FakeClaude, claude_url: str, tmp_path: Path
) -> None:
    fake.script(status=400, match="Category: cultural", times=5)

    done = havachat(
        "run", str(SAMPLES / "zh_hsk1.csv"), "-l", "zh", "--level", "HSK1", "--out", str(tmp_path),
        env=with_claude(claude_url),
    )  # fmt: skip

    assert done.returncode == ExitCode.PARTIAL, done.stderr[-2000:]
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "PARTIAL"
    assert [b["batch_id"] for b in run["failed_batches"]] == ["cultural-0000"]
    assert run["failed_batches"][0]["error_type"] == "LlmRequestRejected"
    assert "cultural" not in run["counts_by_category"] and len(run["counts_by_category"]) == 8
    assert "cultural-0000 failed" in done.stderr


def test_run_with_anthropic_chosen_but_no_key_says_what_it_needs_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"

    done = havachat(
        "run", str(SAMPLES / "zh_hsk1.csv"), "-l", "zh", "--level", "HSK1", "--out", str(out),
        "--provider", "anthropic",
    )  # fmt: skip

    assert done.returncode == ExitCode.MISSING_CREDENTIALS
    assert "ANTHROPIC_API_KEY" in done.stderr and "bedrock" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


@pytest.mark.parametrize(("name", "language", "level"), [("zh_hsk1.csv", "zh", "HSK1"), ("ja_jlpt_n5.csv", "ja", "N5")])
def test_run_without_credentials_uses_the_offline_generator_and_says_what_needs_an_llm(
    name: str, language: str, level: str, tmp_path: Path
) -> None:
    done = havachat("run", str(SAMPLES / name), "-l", language, "--level", level, "--out", str(tmp_path))

    assert done.returncode == ExitCode.OK, done.stderr[-2000:]
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    items = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    assert run["status"] == "SUCCEEDED" and run["generator"] == "offline" and run["usage"]["calls"] == 0
    assert len(items) == run["items_total"] > 10
    assert {(i["provenance"]["generator"], i["category"]) for i in items} == {
        ("offline", "pronunciation"),
        ("offline", "writing_system"),
    }
    assert "idiom" in run["categories_needing_llm"] and done.stderr.count("need an LLM") == 1
    assert "coverage:" in done.stdout and "readings:" in done.stdout


def test_run_rejects_a_bad_file_before_any_call(fake: FakeClaude, claude_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("word,pinyin\n爱,ài\n,bā\n吃,chī,extra\n", encoding="utf-8")

    done = havachat(
        "run", str(bad), "-l", "zh", "--level", "HSK1", "--out", str(tmp_path / "out"), env=with_claude(claude_url)
    )

    assert done.returncode == ExitCode.INVALID_INPUT
    assert "bad.csv, row 3" in done.stderr and "bad.csv, row 4" in done.stderr
    assert fake.requests == []
    assert not (tmp_path / "out").exists()


def test_run_without_a_level_asks_for_one(tmp_path: Path) -> None:
    done = havachat("run", str(SAMPLES / "zh_hsk1.csv"), "-l", "zh", "--out", str(tmp_path / "out"))

    assert done.returncode == ExitCode.USAGE
    assert "--level" in done.stderr


def test_validate_reports_every_problem_with_its_row(tmp_path: Path) -> None:
    bad = tmp_path / "list.tsv"
    bad.write_text("word\treading\n会う\tあう\n\tいく\n", encoding="utf-8")

    assert havachat("validate", str(SAMPLES / "ja_jlpt_n5.csv")).returncode == ExitCode.OK
    done = havachat("validate", str(bad))
    assert done.returncode == ExitCode.INVALID_INPUT
    assert "list.tsv, row 3" in done.stderr


def test_plan_json_compares_the_designs_without_credentials() -> None:
    done = havachat("plan", str(SAMPLES / "zh_hsk1.csv"), "-l", "zh", "--level", "HSK1", "--json")

    assert done.returncode == ExitCode.OK, done.stderr
    plan = json.loads(done.stdout)
    assert len(plan["batches"]) == plan["summary"]["batches"] == 9
    per_word, batched = plan["designs"]["one_call_per_word"], plan["designs"]["batched"]
    assert per_word["calls"] == 151 and batched["calls"] == 9
    assert per_word["system_prompt_tokens"] > 10 * batched["system_prompt_tokens"]
    assert batched["wall_seconds"] < per_word["wall_seconds"]


def _item(title: str) -> LearningItem:
    return LearningItem(
        id=f"zh-idiom-{abs(hash(title))}",
        language="zh",
        category=Category.IDIOM,
        level_system="HSK",
        level_min="1",
        level_max="1",
        title=title,
        explanation='=HYPERLINK("http://x")',
        examples=[Example(text="你好", romanization="nǐ hǎo", translation="hello")] * 2,
        source_words=["你好"],
        provenance=Provenance(run_id="r", batch_id="idiom-0000", model="m", prompt_version="p"),
    )


def test_export_writes_formula_safe_csv_and_anki_text(tmp_path: Path) -> None:
    (tmp_path / "items.jsonl").write_text(
        "".join(i.model_dump_json() + "\n" for i in (_item("+1 greeting"), _item("plain"))), encoding="utf-8"
    )

    done = havachat("export", str(tmp_path), "--format", "csv")
    anki = havachat("export", str(tmp_path), "--format", "anki", "--out", str(tmp_path / "deck.txt"))

    assert done.returncode == anki.returncode == ExitCode.OK
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["title"] for r in rows] == ["'+1 greeting", "plain"]
    assert all(r["explanation"].startswith("'=") for r in rows)
    deck = (tmp_path / "deck.txt").read_text(encoding="utf-8").splitlines()
    assert deck[:3] == ["#separator:tab", "#html:true", "#tags column:3"]
    assert len(deck) == 5 and deck[3].split("\t")[2].startswith("havachat::zh")

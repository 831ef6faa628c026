"""`havachat content RUN_DIR` end to end: a real subprocess after a real `havachat run`, the fake Claude on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from havachat.content.models import ContentDocument
from havachat.models import LearningItem
from havachat.vocab import read_vocab_file
from havachat_local.cli import ExitCode
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.fake_content import install
from tests.helpers import FIXTURES_DIR
from tests.integration.test_cli import havachat, with_claude

SPANISH = FIXTURES_DIR / "vocab" / "es_cefr_a1.csv"


@pytest.fixture
def fake() -> FakeClaude:
    return install(FakeClaude(), extra_text=" señora")


@pytest.fixture
def claude_url(fake: FakeClaude) -> Iterator[str]:
    with fake.serve() as url:
        yield url


def test_content_after_run_writes_checked_conversations_and_stories(
    fake: FakeClaude, claude_url: str, tmp_path: Path
) -> None:
    ran = havachat(
        "run", str(SPANISH), "-l", "es", "--level", "A1", "--out", str(tmp_path), env=with_claude(claude_url)
    )
    assert ran.returncode == ExitCode.OK, ran.stderr[-2000:]
    calls = len(fake.requests)

    done = havachat("content", str(tmp_path), "--conversations", "2", "--stories", "1", env=with_claude(claude_url))

    assert done.returncode == ExitCode.OK, done.stderr[-2000:]
    assert sorted(b["tool_choice"]["name"] for b in fake.requests[calls:]) == ["ConversationBatch", "StoryBatch"]
    document = ContentDocument.model_validate_json((tmp_path / "content.json").read_text(encoding="utf-8"))
    items = [LearningItem.model_validate_json(line) for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    words = set(read_vocab_file(SPANISH).words)
    assert (len(document.conversations), len(document.stories)) == (2, 1)
    assert all(set(p.item_ids) <= {i.id for i in items} and set(p.vocab_words) <= words for p in document.pieces())
    assert document.summary.out_of_level_words == ["señora"], "the planted word is outside the A1 list"
    assert "1 word(s) outside the level: señora" in done.stderr
    assert document.run_id == json.loads((tmp_path / "run.json").read_text())["run_id"]

    # The same command again finds the run's content written: no call
    calls = len(fake.requests)
    again = havachat("content", str(tmp_path), "--conversations", "2", "--stories", "1", env=with_claude(claude_url))
    assert again.returncode == ExitCode.OK and "already written: no call" in again.stdout, again.stderr[-2000:]
    assert len(fake.requests) == calls


def test_content_without_credentials_says_so_and_exits_5(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"run_id": "r", "language": "es", "level": "A1"}), encoding="utf-8")
    item = {
        "id": "es-functional-0",
        "language": "es",
        "category": "functional",
        "level_system": "CEFR",
        "level_min": "A1",
        "level_max": "A1",
        "title": "Greeting",
        "explanation": "Say hello.",
        "examples": [{"text": "hola", "translation": "hello"}, {"text": "hola, amigo", "translation": "hi, friend"}],
        "source_words": ["hola"],
        "provenance": {"run_id": "r", "batch_id": "b", "model": "m", "prompt_version": "v"},
    }
    (tmp_path / "items.jsonl").write_text(json.dumps(item) + "\n", encoding="utf-8")

    done = havachat("content", str(tmp_path))

    assert done.returncode == ExitCode.MISSING_CREDENTIALS
    assert "ANTHROPIC_API_KEY" in done.stderr
    assert not (tmp_path / "content.json").exists()


def test_content_of_a_directory_that_is_not_a_run_is_a_usage_error(tmp_path: Path) -> None:
    done = havachat("content", str(tmp_path))

    assert done.returncode == ExitCode.USAGE and "items.jsonl not found" in done.stderr

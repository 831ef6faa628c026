"""generate_batch over the real anthropic + instructor path, faked only at HTTP."""

from __future__ import annotations

import json

import pytest

from havachat.errors import LlmOutputTruncated
from havachat.generation import generate_batch
from havachat.llm import InstructorClaude
from havachat.models import Category, Level, VocabItem, VocabList
from havachat.planning import plan_run
from tests.fakes.fake_claude import FakeClaude

WORDS = [VocabItem(word=w, romanization=r) for w, r in [("你好", "nǐ hǎo"), ("不", "bù"), ("是", "shì"), ("一", "yī")]]
LEVEL = Level.parse("HSK1")


def _batch(category: Category = Category.PRONUNCIATION):
    plan = plan_run(
        VocabList(source="t.csv", items=WORDS),
        run_id="run-1",
        language="zh",
        level=LEVEL,
        model="claude-sonnet-4-6",
        chunk_token_budget=12_000,
        max_tokens=8192,
        categories=(category,),
    )
    return plan.batches[0]


def _llm(fake: FakeClaude) -> InstructorClaude:
    return InstructorClaude(fake.client(max_retries=0), model="claude-sonnet-4-6", validation_max_retries=1)


def _vocab_in(request_body: dict) -> list[str]:
    user = request_body["messages"][0]["content"]
    text = user if isinstance(user, str) else "".join(block.get("text", "") for block in user)
    block = text.split("<vocabulary>\n", 1)[1].split("</vocabulary>", 1)[0]
    return [json.loads(line)["word"] for line in block.splitlines() if line.strip()]


def test_a_batch_becomes_items_with_metadata_and_usage() -> None:
    fake = FakeClaude()
    result = generate_batch(
        _batch(), WORDS, language="zh", level=LEVEL, run_id="run-1", llm=_llm(fake), max_tokens=8192
    )

    assert len(fake.requests) == 1
    assert result.items, "the fake answers with at least one item"
    assert {item.category for item in result.items} == {Category.PRONUNCIATION}
    assert all(item.provenance.run_id == "run-1" and item.level_system.value == "HSK" for item in result.items)
    assert all(set(item.source_words) <= {w.word for w in WORDS} for item in result.items)
    assert result.usage.calls == 1 and result.usage.output_tokens > 0 and result.usage.cost_usd > 0


def test_a_truncated_answer_splits_the_chunk_instead_of_re_asking() -> None:
    fake = FakeClaude()
    fake.script(truncated=True)

    result = generate_batch(
        _batch(), WORDS, language="zh", level=LEVEL, run_id="run-1", llm=_llm(fake), max_tokens=8192
    )

    asked = [_vocab_in(body) for body in fake.requests]
    assert asked == [["你好", "不", "是", "一"], ["你好", "不"], ["是", "一"]]
    assert result.splits == 1
    assert result.usage.calls == 3, "the truncated call's tokens are counted too"
    assert result.items


def test_truncation_that_persists_to_the_split_limit_is_raised() -> None:
    fake = FakeClaude()
    fake.script(truncated=True, times=3)

    with pytest.raises(LlmOutputTruncated):
        generate_batch(
            _batch(),
            WORDS,
            language="zh",
            level=LEVEL,
            run_id="run-1",
            llm=_llm(fake),
            max_tokens=8192,
            max_split_depth=1,
        )
    assert len(fake.requests) == 2, "one split, then the first half is cut off again and the error surfaces"

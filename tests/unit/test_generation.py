"""generate_batch over the real anthropic + instructor path, faked only at HTTP."""

from __future__ import annotations

import json

import pytest

from havachat.errors import LlmOutputTruncated
from havachat.generation import generate_batch
from havachat.llm import InstructorClaude
from havachat.models import Category, Level, VocabItem, VocabKind, VocabList
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
    # only the whole chunk's block is cached: no other call shares a half's words
    assert [isinstance(body["messages"][0]["content"], list) for body in fake.requests] == [True, False, False]
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


def test_the_categories_of_a_chunk_send_the_same_shared_block_and_the_second_reads_the_first() -> None:
    fake = FakeClaude()
    llm = _llm(fake)
    chunk = [*WORDS, VocabItem(word="是…的", kind=VocabKind.GRAMMAR)]

    for category in (Category.PRONUNCIATION, Category.PATTERN):
        generate_batch(_batch(category), chunk, language="zh", level=LEVEL, run_id="r", llm=llm, max_tokens=8192)

    shared = [body["messages"][0]["content"][0] for body in fake.requests]
    assert shared[0] == shared[1] and shared[0]["cache_control"] == {"type": "ephemeral"}
    assert _vocab_in(fake.requests[0]) == [w.word for w in chunk]  # grammar points too, for every category
    assert fake.usages[1]["cache_read_input_tokens"] == fake.usages[0]["cache_creation_input_tokens"] > 0


def test_warm_is_skipped_below_the_models_minimum_and_for_an_llm_that_cannot_warm() -> None:
    from havachat.generation import LlmBatchGenerator

    fake = FakeClaude()
    haiku = InstructorClaude(fake.client(max_retries=0), model="claude-haiku-4-5")  # minimum 4,096 tokens

    class NoCache:
        model = "claude-sonnet-4-6"

    assert LlmBatchGenerator(haiku, 8192).warm(WORDS, language="zh", level=LEVEL) == []
    assert LlmBatchGenerator(NoCache(), 8192).warm(WORDS, language="zh", level=LEVEL) == []  # type: ignore[arg-type]
    assert fake.warm_ups == []
    [usage] = LlmBatchGenerator(_llm(fake), 8192).warm(WORDS, language="zh", level=LEVEL)
    assert usage.cache_write_tokens > 0 and len(fake.warm_ups) == 1

"""Grammar points as input: parsed with the words, validated like them, sent to idiom and pattern only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from havachat.errors import InvalidVocabFile
from havachat.generation import generate_batch
from havachat.llm import InstructorClaude
from havachat.models import Category, Level, VocabItem, VocabKind, VocabList
from havachat.planning import plan_run
from havachat.prompts import build_request, words_for_category
from havachat.vocab import parse_vocab
from tests.fakes.fake_claude import FakeClaude

LEVEL = Level.parse("HSK1")
WORDS = [VocabItem(word="我"), VocabItem(word="是"), VocabItem(word="老师")]
GRAMMAR = [VocabItem(word="是…的", kind=VocabKind.GRAMMAR), VocabItem(word="太…了", kind=VocabKind.GRAMMAR)]


def _plan(items: list[VocabItem], budget: int = 12_000):
    return plan_run(
        VocabList(source="t.json", items=items),
        run_id="run-1",
        language="zh",
        level=LEVEL,
        model="claude-sonnet-4-6",
        chunk_token_budget=budget,
        max_tokens=8192,
    )


def _sent(body: dict[str, Any]) -> list[dict[str, str]]:
    content = body["messages"][0]["content"]
    text = content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
    block = text.split("<vocabulary>\n", 1)[1].split("\n</vocabulary>", 1)[0]
    return [json.loads(line) for line in block.splitlines()]


def test_a_vocab_file_carries_grammar_points_in_a_type_column_or_the_json_envelope() -> None:
    table = parse_vocab("word,type\n我,word\n是…的,grammar\n".encode(), "list.csv")
    envelope = parse_vocab(
        json.dumps({"items": ["我"], "grammar": ["是…的", {"word": "太…了"}]}, ensure_ascii=False).encode(), "l.json"
    )

    assert [(i.word, i.kind) for i in table.items] == [("我", VocabKind.WORD), ("是…的", VocabKind.GRAMMAR)]
    assert [i.kind for i in envelope.items] == [VocabKind.WORD, VocabKind.GRAMMAR, VocabKind.GRAMMAR]


def test_grammar_points_are_validated_like_words() -> None:
    bad = json.dumps({"items": ["我"], "grammar": ["", 3, {"definition": "no word"}]}).encode()

    with pytest.raises(InvalidVocabFile) as raised:
        parse_vocab(bad, "list.json")

    problems = [str(p) for p in raised.value.problems]
    assert any("grammar item 1" in p and "empty" in p for p in problems)
    assert any("grammar item 2" in p for p in problems)
    assert any("grammar item 3" in p for p in problems)


@pytest.mark.parametrize("category", list(Category), ids=lambda c: c.value)
def test_every_prompt_shows_the_grammar_points_and_only_idiom_and_pattern_may_cite_them(category: Category) -> None:
    # The shared (cached) block is the same for every category of a chunk; the instruction says who may cite.
    request = build_request(category, "zh", LEVEL, [*WORDS, *GRAMMAR], 1, 3, 8192)

    uses_grammar = category in (Category.IDIOM, Category.PATTERN)
    assert '{"word": "是…的", "kind": "grammar"}' in request.shared
    assert '{"word": "老师"}' in request.shared
    assert ('"grammar" are for other categories' in request.user) is not uses_grammar
    assert len(words_for_category(category, [*WORDS, *GRAMMAR])) == (5 if uses_grammar else 3)


def test_a_chunk_of_only_grammar_points_gets_idiom_and_pattern_batches_only() -> None:
    grammar = [VocabItem(word=f"语法{i}…了", kind=VocabKind.GRAMMAR) for i in range(200)]
    plan = _plan([*WORDS, *grammar], budget=4_000)

    chunks = sorted({b.chunk_index for b in plan.batches})
    last = [b for b in plan.batches if b.chunk_index == chunks[-1]]
    first = [b for b in plan.batches if b.chunk_index == 0]
    assert len(chunks) > 1
    assert {b.category for b in last} == {Category.IDIOM, Category.PATTERN}
    assert {b.category for b in first} == set(Category)


def test_quantity_counts_only_what_the_category_sees() -> None:
    plan = _plan([*WORDS, *(VocabItem(word=f"语法{i}", kind=VocabKind.GRAMMAR) for i in range(150))])

    by_category = {b.category: b for b in plan.batches}
    assert by_category[Category.PATTERN].target_items_max > by_category[Category.PRAGMATIC].target_items_max
    assert (
        by_category[Category.PRONUNCIATION].estimated_input_tokens < by_category[Category.IDIOM].estimated_input_tokens
    )


def test_pattern_items_may_cite_grammar_points_and_other_categories_may_not() -> None:
    fake = FakeClaude()
    citing_grammar = {
        "title": "是…的 for past details",
        "explanation": "Stress when or how something happened.",
        "examples": [{"text": "我是昨天来的。", "translation": "I came yesterday."}] * 2,
        "source_words": ["是…的", "我"],
    }
    fake.script(answer=[citing_grammar], times=2)
    llm = InstructorClaude(fake.client(max_retries=0), model="claude-sonnet-4-6", validation_max_retries=0)
    plan = _plan([*WORDS, *GRAMMAR])
    batches = {b.category: b for b in plan.batches}

    def run(category: Category):
        return generate_batch(
            batches[category], [*WORDS, *GRAMMAR], language="zh", level=LEVEL, run_id="r", llm=llm, max_tokens=8192
        )

    pattern, pronunciation = run(Category.PATTERN), run(Category.PRONUNCIATION)

    assert [i.source_words for i in pattern.items] == [["是…的", "我"]]
    assert pronunciation.items == [] and pronunciation.dropped_unknown_words == 1
    assert [w["word"] for w in _sent(fake.requests[1])] == ["我", "是", "老师", "是…的", "太…了"]
    assert _sent(fake.requests[0]) == _sent(fake.requests[1])

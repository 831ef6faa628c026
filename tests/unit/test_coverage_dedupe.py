"""Coverage of the input words, merging items about the same feature, and the coverage follow-up call."""

from __future__ import annotations

import json

import pytest

from havachat.generation import generate_batch
from havachat.llm import InstructorClaude
from havachat.models import (
    Category,
    Example,
    LearningItem,
    Level,
    LevelSystem,
    Provenance,
    ReadingFlag,
    ReadingStatus,
    VocabItem,
    VocabKind,
    VocabList,
    item_id,
)
from havachat.planning import plan_run
from havachat.postprocess import MAX_MERGED_SOURCE_WORDS, coverage, feature_key, match_catalog, merge_similar
from tests.fakes.fake_claude import FakeClaude

WORDS = [
    VocabItem(word="你好", romanization="nǐ hǎo"),
    VocabItem(word="不", romanization="bù"),
    VocabItem(word="是", romanization="shì"),
    VocabItem(word="一", romanization="yī"),
    VocabItem(word="是…的", kind=VocabKind.GRAMMAR),
]


def _item(
    title: str, words: list[str], examples: list[str], category: Category = Category.PRONUNCIATION, run: str = "r1"
) -> LearningItem:
    return LearningItem(
        id=item_id("zh", category, title, words),
        language="zh",
        category=category,
        level_system=LevelSystem.HSK,
        level_min="1",
        level_max="1",
        title=title,
        explanation="e",
        examples=[Example(text=t, romanization=None, translation="x") for t in examples],
        source_words=words,
        provenance=Provenance(run_id=run, batch_id="b", model="m", prompt_version="p"),
    )


def test_coverage_counts_words_cited_per_category_and_overall_without_grammar_points() -> None:
    items = [
        _item("Third tone", ["你好"], ["a", "b"]),
        _item("不 sandhi", ["不", "是"], ["c", "d"]),
        _item("Characters", ["一", "是…的"], ["e", "f"], Category.WRITING_SYSTEM),
    ]

    result = coverage(WORDS, items, [Category.PRONUNCIATION, Category.WRITING_SYSTEM, Category.IDIOM])

    assert result.words == 4
    assert result.by_category == {"pronunciation": 0.75, "writing_system": 0.25, "idiom": 0.0}
    assert result.overall == 1.0
    assert result.missed_by_category["pronunciation"] == ["一"]
    assert result.missed_by_category["idiom"] == ["你好", "不", "是", "一"]


def test_items_about_the_same_feature_are_merged_with_their_words_and_examples() -> None:
    first = _item("Neutral tone", ["你好"], ["a", "b"])
    same_title = _item("neutral tone.", ["不"], ["b", "c"])
    reworded = _item("The neutral tone of 是", ["是", "你好"], ["d", "e"])
    reworded_elsewhere = _item("The neutral tone of 是", ["一"], ["f", "g"], Category.WRITING_SYSTEM)
    unrelated = _item("Tone pair 3-4", ["你好"], ["h", "i"])

    merged, count = merge_similar([first, same_title, reworded, reworded_elsewhere, unrelated])

    assert count == 2, "the same title, and a reworded title sharing a word; not another category or feature"
    assert [i.id for i in merged] == [first.id, reworded_elsewhere.id, unrelated.id]
    assert merged[0].source_words == ["你好", "不", "是"]
    assert [e.text for e in merged[0].examples] == ["a", "b", "c"]


def test_titles_saying_the_same_merge_across_chunks_and_examples_stay_at_three() -> None:
    flag = ReadingFlag(example=1, text="d", given="x", expected="y", status=ReadingStatus.MISMATCH)
    a = _item("Third-tone sandhi in 你好", ["你好"], ["a", "b"])
    b = _item("你好 third tone sandhi", ["你好", "是"], ["c", "d"]).model_copy(update={"reading_flags": [flag]})
    c = _item("Third tone sandhi: 很好", ["不"], ["e", "f"])  # another chunk: no shared source word
    other_category = _item("Third tone sandhi: 很好", ["一"], ["g", "h"], Category.IDIOM)

    merged, count = merge_similar([a, b, c, other_category])

    assert count == 2 and len(merged) == 2
    assert merged[0].source_words == ["你好", "是", "不"] and [e.text for e in merged[0].examples] == ["a", "b", "c"]
    assert merged[0].reading_flags == [], "the flagged example was not kept"


@pytest.mark.parametrize(
    ("category", "title", "words", "key"),
    [
        (Category.WRITING_SYSTEM, "The character 人 in 人们, 工人", ["人们", "工人"], "writing_system:人"),
        (Category.WRITING_SYSTEM, "Stroke order of 人", ["人"], "writing_system:人"),
        (Category.PRONUNCIATION, "行 has two readings: xíng / háng", ["行", "银行"], "pronunciation:行"),
        (Category.PRONUNCIATION, "Tone change of 不 before a fourth tone", ["不"], "pronunciation:不"),
        (Category.PRONUNCIATION, "Third-tone sandhi in 你好", ["你好"], "pronunciation:sandhi third tone"),
        (Category.PRONUNCIATION, "Neutral-tone ending 子 (zi)", ["杯子"], "pronunciation:ending neutral tone zi 子"),
        (Category.WRITING_SYSTEM, "Radicals 氵 and 冫", ["没"], None),  # two characters: which one?
        (Category.PRONUNCIATION, "Tones of 你好", ["你好"], None),  # one word: too little to tell features apart
        (Category.PATTERN, "Measure word 个 with 人", ["个", "人"], None),  # only pronunciation and writing
    ],
)
def test_the_feature_key_names_the_character_or_the_sound_pattern(
    category: Category, title: str, words: list[str], key: str | None
) -> None:
    assert feature_key(category, title, words) == key


def test_one_item_per_character_or_heteronym_however_many_chunks_and_both_reading_orders() -> None:
    chunks = [
        _item("The character 人 in 人们, 工人", ["人们", "工人"], ["a", "b"], Category.WRITING_SYSTEM),
        _item("行 has two readings: xíng / háng", ["行", "银行"], ["c", "d"]),
        _item("The character 人 in 大人, 人口", ["大人", "人口"], ["e", "f"], Category.WRITING_SYSTEM, run="r1"),
        _item("行 has two readings: háng / xíng", ["行业", "不行"], ["g", "h"]),
        _item("The character 大 in 大人, 大学", ["大人", "大学"], ["i", "j"], Category.WRITING_SYSTEM),
        _item("长 has two readings: cháng / zhǎng", ["行长", "长城"], ["k", "l"]),
        *(_item(f"The character 人 in chunk {n}", [f"w{n}a", f"w{n}b"], ["m", "n"], Category.WRITING_SYSTEM)
          for n in range(30)),
    ]  # fmt: skip

    merged, count = merge_similar(chunks)

    assert [i.title for i in merged] == [
        "The character 人 in 人们, 工人", "行 has two readings: xíng / háng", "The character 大 in 大人, 大学",
        "长 has two readings: cháng / zhǎng",
    ]  # fmt: skip
    assert count == 32
    assert merged[0].source_words[:4] == ["人们", "工人", "大人", "人口"]
    assert len(merged[0].source_words) == MAX_MERGED_SOURCE_WORDS, "a merged item cites a bounded number of words"
    assert merged[1].source_words == ["行", "银行", "行业", "不行"]


def test_a_later_run_reuses_the_earlier_runs_id_for_the_same_feature_and_a_retry_changes_nothing() -> None:
    earlier = [_item("Neutral tone", ["你好"], ["a", "b"], run="r1"), _item("Tone pair 1-4", ["不"], ["c", "d"])]
    _, catalog, matched = match_catalog(earlier, [], "r1")
    assert matched == 0 and len(catalog) == 2

    later = [_item("Neutral tone.", ["是"], ["e", "f"], run="r2"), _item("New feature", ["一"], ["g", "h"], run="r2")]
    items, catalog2, matched2 = match_catalog(later, catalog, "r2")
    retried, catalog3, matched3 = match_catalog(later, catalog2, "r2")

    assert matched2 == 1 and items[0].id == earlier[0].id and items[1].id == later[1].id
    assert len(catalog2) == 3 and {e.last_run for e in catalog2 if e.id == earlier[0].id} == {"r2"}
    assert (retried, matched3) == (items, matched2)
    assert [e.model_dump() for e in catalog3] == [e.model_dump() for e in catalog2]


def test_the_coverage_follow_up_asks_once_more_about_the_missed_words_only() -> None:
    fake = FakeClaude()
    cited_one = {
        "title": "Third tone",
        "explanation": "e",
        "examples": [{"text": "你好", "romanization": "nǐ hǎo", "translation": "hi"}] * 2,
        "source_words": ["你好"],
    }
    fake.script(answer=[cited_one])
    llm = InstructorClaude(fake.client(max_retries=0), model="claude-sonnet-4-6", validation_max_retries=0)
    plan = plan_run(
        VocabList(source="t.csv", items=WORDS), run_id="r", language="zh", level=Level.parse("HSK1"),
        model="claude-sonnet-4-6", chunk_token_budget=12_000, max_tokens=8192, categories=(Category.PRONUNCIATION,),
    )  # fmt: skip

    result = generate_batch(
        plan.batches[0], WORDS, language="zh", level=Level.parse("HSK1"), run_id="r", llm=llm, max_tokens=8192,
        coverage_followup=True,
    )  # fmt: skip

    user = fake.requests[1]["messages"][0]["content"]
    text = user if isinstance(user, str) else "".join(block.get("text", "") for block in user)
    block = text.split("<vocabulary>\n")[1].split("</vocabulary>")[0]
    asked = [json.loads(line)["word"] for line in block.splitlines()]
    assert len(fake.requests) == 2 and asked == ["不", "是", "一"]
    assert result.followup_words == 3 and result.usage.calls == 2
    assert {w for i in result.items for w in i.source_words} == {"你好", "不", "是", "一"}


def test_without_the_follow_up_setting_one_call_is_made() -> None:
    fake = FakeClaude()
    llm = InstructorClaude(fake.client(max_retries=0), model="claude-sonnet-4-6", validation_max_retries=0)
    plan = plan_run(
        VocabList(source="t.csv", items=WORDS), run_id="r", language="zh", level=Level.parse("HSK1"),
        model="claude-sonnet-4-6", chunk_token_budget=12_000, max_tokens=8192, categories=(Category.IDIOM,),
    )  # fmt: skip
    fake.script(answer=[{"title": "t", "explanation": "e", "examples": [{"text": "x", "translation": "y"}] * 2,
                         "source_words": ["你好"]}])  # fmt: skip

    result = generate_batch(
        plan.batches[0], WORDS, language="zh", level=Level.parse("HSK1"), run_id="r", llm=llm, max_tokens=8192,
        coverage_followup=True,
    )  # fmt: skip

    assert len(fake.requests) == 1 and result.followup_words == 0, "idiom is not a per-word category"

"""Reading checks, coverage, merging and the offline generator through the real state machine on moto."""

from __future__ import annotations

from typing import Any

import pytest

from havachat.models import Category, ReadingStatus
from havachat.offline import LLM_CATEGORIES, OfflineGenerator
from havachat.pipeline.contracts import RunStatus
from havachat.pipeline.finalize import finalize_step
from havachat.settings import Provider, Settings
from havachat_local.runner import LocalPipeline
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import FIXTURES_DIR, ROOT

ZH_LIST = "word,romanization,definition\n你好,nǐ hǎo,hello\n银行,yínháng,bank\n谢谢,xièxie,thanks\n了,le,particle\n"


def _example(text: str, romanization: str) -> dict[str, str]:
    return {"text": text, "romanization": romanization, "translation": "..."}


def _answer(title: str, words: list[str], examples: list[dict[str, str]]) -> dict[str, Any]:
    return {"title": title, "explanation": "Explained.", "examples": examples, "source_words": words}


def test_wrong_tones_and_readings_in_claudes_answer_are_flagged_and_counted(
    local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    # Given Claude answers the pronunciation batch with a wrong tone, a wrong reading and a heteronym
    fake_claude.script(
        match="Category: pronunciation",
        answer=[
            _answer("Greeting", ["你好"], [_example("你好", "nì hǎo"), _example("谢谢", "xièxie")]),
            _answer("Banks and 行", ["银行", "了"], [_example("银行", "yínxíng"), _example("行", "háng")]),
        ],
    )

    # When the list runs
    with local.capture_events() as drain:
        result = local.run_bytes(ZH_LIST.encode(), "uploads/zh/HSK1/small.csv")
        events = drain()

    # Then the wrong tone and the wrong reading are mismatches, the heteronym is ambiguous
    summary = result.summary
    assert summary is not None and summary.status is RunStatus.SUCCEEDED, result.execution_cause
    items = {i.title: i for i in local.read_items(summary.run_id)}
    greeting, banks = items["Greeting"], items["Banks and 行"]
    assert [(f.example, f.status, f.expected) for f in greeting.reading_flags] == [
        (0, ReadingStatus.MISMATCH, "nǐ hǎo")
    ]
    assert [(f.example, f.status) for f in banks.reading_flags] == [
        (0, ReadingStatus.MISMATCH),
        (1, ReadingStatus.AMBIGUOUS),
    ]
    # And they are counted in the summary and the event (the fake's other answers echo the list's pinyin)
    assert summary.readings.by_category["pronunciation"].mismatches == 2
    assert summary.readings.by_category["pronunciation"].ambiguous == 1
    assert summary.readings.mismatches == 2 and summary.readings.ambiguous == 1
    assert summary.readings.input.checked == 4 and summary.readings.input.mismatches == 0
    assert events[0]["detail"]["readings"]["mismatches"] == 2
    # And coverage: the pronunciation answer cited three of the four words
    assert summary.coverage.by_category["pronunciation"] == 0.75
    assert summary.coverage.missed_by_category["pronunciation"] == ["谢谢"]
    assert summary.coverage.overall == 1.0
    assert events[0]["detail"]["coverage"]["missed_counts"]["pronunciation"] == 1


def test_a_wrong_japanese_reading_is_flagged(local: LocalPipeline, fake_claude: FakeClaude) -> None:
    fake_claude.script(
        match="Category: pronunciation",
        answer=[
            _answer("School", ["学校"], [_example("学校", "gakou"), _example("学校に行きます", "gakkō ni ikimasu")])
        ],
    )

    result = local.run_bytes("word,reading\n学校,がっこう\n先生,せんせい\n".encode(), "uploads/ja/N5/small.csv")

    summary = result.summary
    assert summary is not None and summary.status is RunStatus.SUCCEEDED, result.execution_cause
    school = next(i for i in local.read_items(summary.run_id) if i.title == "School")
    assert [(f.example, f.status, f.expected) for f in school.reading_flags] == [(0, ReadingStatus.MISMATCH, "gakkou")]
    assert summary.readings.by_category["pronunciation"].mismatches == 1


def test_missing_input_romanization_is_filled_before_the_prompt(local: LocalPipeline, fake_claude: FakeClaude) -> None:
    result = local.run_bytes("word,definition\n你好,hello\n谢谢,thanks\n".encode(), "uploads/zh/HSK1/bare.csv")

    summary = result.summary
    assert summary is not None and summary.status is RunStatus.SUCCEEDED, result.execution_cause
    assert summary.readings.input.filled == 2
    prompt = fake_claude.requests[0]["messages"][0]["content"]
    text = prompt if isinstance(prompt, str) else "".join(b.get("text", "") for b in prompt)
    assert '"romanization": "nǐhǎo"' in text


@pytest.fixture
def one_word_chunks() -> Settings:
    return Settings(sdk_max_retries=0, chunk_token_budget=500)  # below one word's call: every word alone


def test_items_about_the_same_feature_from_different_chunks_are_merged(
    fake_claude: FakeClaude, one_word_chunks: Settings
) -> None:
    # Given two one-word chunks whose pronunciation answers teach the same feature
    answer = [
        _answer("Neutral tone", ["谢谢"], [_example("谢谢", "xièxie"), _example("谢谢你", "xièxie nǐ")]),
        _answer("Neutral tone", ["爸爸"], [_example("爸爸", "bàba"), _example("我爸爸", "wǒ bàba")]),
    ]
    fake_claude.script(match="Category: pronunciation", answer=answer, times=2)
    llm = _llm(fake_claude, one_word_chunks)

    with LocalPipeline(llm, settings=one_word_chunks, root=ROOT) as local:
        result = local.run_bytes("word,pinyin\n谢谢,xièxie\n爸爸,bàba\n".encode(), "uploads/zh/HSK1/two.csv")
        summary = result.summary
        assert summary is not None and summary.status is RunStatus.SUCCEEDED, result.execution_cause
        items = [i for i in local.read_items(summary.run_id) if i.category is Category.PRONUNCIATION]

    # Then Finalize keeps one item with both words and up to three examples
    assert summary.batch_count == 18
    neutral = [i for i in items if i.title == "Neutral tone"]
    assert len(neutral) == 1 and neutral[0].source_words == ["谢谢", "爸爸"] and len(neutral[0].examples) == 3
    assert summary.merged_similar >= 1


def test_a_new_version_of_the_same_list_reuses_the_ids_of_features_taught_before(
    local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    # Given a first run whose pronunciation item teaches the neutral tone of 谢谢
    key = "uploads/zh/HSK1/list.csv"
    thanks = [_example("谢谢", "xièxie"), _example("谢谢你", "xièxie nǐ")]
    first_answer = [_answer("Neutral tone in 谢谢", ["谢谢"], thanks)]
    fake_claude.script(match="Category: pronunciation", answer=first_answer)
    first = local.run_bytes("word,pinyin\n谢谢,xièxie\n你好,nǐ hǎo\n".encode(), key)
    assert first.summary is not None and first.summary.merged_with_earlier_runs == 0
    earlier_item = next(i for i in local.read_items(first.summary.run_id) if i.category is Category.PRONUNCIATION)

    # When an edited version is uploaded under the same key and Claude words the same feature differently
    second_answer = [
        _answer("The neutral tone in 谢谢", ["谢谢"], [_example("谢谢", "xièxie"), _example("不谢", "bú xiè")])
    ]
    fake_claude.script(match="Category: pronunciation", answer=second_answer)
    second = local.run_bytes("word,pinyin\n谢谢,xièxie\n你好,nǐ hǎo\n不,bù\n".encode(), key)

    # Then the new run is a different run whose item keeps the earlier item's id, counted as merged
    summary = second.summary
    assert summary is not None and summary.run_id != first.summary.run_id
    later_item = next(i for i in local.read_items(summary.run_id) if i.category is Category.PRONUNCIATION)
    assert later_item.title == "The neutral tone in 谢谢" and later_item.id == earlier_item.id
    assert summary.merged_with_earlier_runs >= 1

    # And Finalize retried gives the same result
    deps = local.deps
    assert deps is not None
    ids_before = [i.id for i in local.read_items(summary.run_id)]
    again = finalize_step(summary.run_id, deps.store, deps.runs, deps.items, deps.events)
    assert again.merged_with_earlier_runs == summary.merged_with_earlier_runs
    assert [i.id for i in local.read_items(summary.run_id)] == ids_before
    assert again.items_total == summary.items_total


@pytest.mark.parametrize(("name", "language", "level"), [("zh_hsk1.csv", "zh", "HSK1"), ("ja_jlpt_n5.csv", "ja", "N5")])
def test_an_offline_run_makes_real_items_without_any_llm(name: str, language: str, level: str) -> None:
    settings = Settings(provider=Provider.OFFLINE)

    with LocalPipeline(OfflineGenerator(), settings=settings, root=ROOT) as local:
        result = local.run_file(FIXTURES_DIR / "vocab" / name, language=language, level=level)
        summary = result.summary
        assert summary is not None and summary.status is RunStatus.SUCCEEDED, result.execution_cause
        items = local.read_items(summary.run_id)

    assert summary.generator == "offline" and summary.model == "offline" and summary.usage.calls == 0
    assert summary.batch_count == 2 and set(summary.counts_by_category) == {"pronunciation", "writing_system"}
    assert summary.categories_needing_llm == [c.value for c in LLM_CATEGORIES]
    assert len(items) == summary.items_total > 10
    assert {(i.provenance.generator, i.provenance.model) for i in items} == {("offline", "offline")}
    assert 0 < summary.coverage.overall <= 1 and summary.readings.mismatches == 0


def _llm(fake: FakeClaude, settings: Settings) -> Any:
    from havachat.llm import InstructorClaude

    return InstructorClaude(
        fake.client(max_retries=settings.sdk_max_retries),
        model=settings.model,
        validation_max_retries=settings.validation_max_retries,
    )

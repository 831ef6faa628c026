"""The offline generator on the sample lists, the provider choice and the offline plan."""

from __future__ import annotations

import pytest

from havachat.models import OFFLINE_CATEGORIES, OFFLINE_MODEL, BatchSpec, Category, Level, VocabItem, VocabList
from havachat.offline import LLM_CATEGORIES, OfflineGenerator, derive_items
from havachat.planning import plan_with_settings
from havachat.readings import flag_readings
from havachat.settings import Provider, Settings, resolve_provider
from havachat.vocab import read_vocab_file
from tests.helpers import ROOT

SAMPLES = ROOT.parent / "shared" / "data" / "vocab"


def _vocab(name: str) -> VocabList:
    path = SAMPLES / name
    assert path.exists(), f"{path} is missing: the sample data lives in ../shared"
    return read_vocab_file(path)


def _spec(category: Category, word_count: int) -> BatchSpec:
    return BatchSpec(
        batch_id=f"{category.value}-0000", category=category, chunk_index=0, chunk_count=1, word_start=0,
        word_end=word_count, target_items_min=1, target_items_max=2, estimated_input_tokens=0,
        estimated_output_tokens=0,
    )  # fmt: skip


@pytest.mark.parametrize(("name", "language", "level"), [("zh_hsk1.csv", "zh", "HSK1"), ("ja_jlpt_n5.csv", "ja", "N5")])
@pytest.mark.parametrize("category", OFFLINE_CATEGORIES)
def test_offline_items_on_the_samples_are_valid_cite_the_list_and_say_they_are_offline(
    name: str, language: str, level: str, category: Category
) -> None:
    vocab = _vocab(name)

    result = OfflineGenerator().generate_batch(
        _spec(category, len(vocab.items)), vocab.items, language=language, level=Level.parse(level), run_id="run-1"
    )

    assert len(result.items) > 2, "more than the LLM target: offline items cost nothing"
    assert result.usage.calls == 0 and result.usage.cost_usd == 0
    assert all(set(i.source_words) <= set(vocab.words) for i in result.items)
    assert all(2 <= len(i.examples) <= 3 and i.category is category for i in result.items)
    assert {(i.provenance.generator, i.provenance.model) for i in result.items} == {("offline", OFFLINE_MODEL)}
    assert len({i.id for i in result.items}) == len(result.items)
    mismatches = [f for i in flag_readings(result.items, language) for f in i.reading_flags if f.status == "mismatch"]
    assert mismatches == [], "offline examples agree with the dictionary they come from"


def test_chinese_offline_pronunciation_finds_the_sandhi_and_neutral_tones_of_hsk1() -> None:
    items = {i.title: i for i in derive_items(Category.PRONUNCIATION, "zh", _vocab("zh_hsk1.csv").items)}

    bu = items["Tone change of 不: bú before a fourth tone"]
    assert ("不大", "bú dà") in {(e.text, e.romanization) for e in bu.examples}
    assert ("不吃", "bù chī") in {(e.text, e.romanization) for e in bu.examples}
    yi = items["Tone change of 一: yí before a fourth tone"]
    assert ("一个", "yí gè") in {(e.text, e.romanization) for e in yi.examples}
    sandhi = items["Third-tone sandhi: 3 + 3 is said 2 + 3"]
    assert "水果" in sandhi.source_words
    assert {"杯子", "椅子", "桌子"} <= set(items["Neutral-tone ending 子 (zi)"].source_words)
    assert set(items["Neutral tone in doubled words"].source_words) >= {"爸爸", "妈妈"}
    assert any(t.startswith("Tone pair 4-4") for t in items)


def test_a_heteronym_read_two_ways_in_the_list_gets_an_item() -> None:
    words = [VocabItem(word="睡觉", romanization="shuìjiào"), VocabItem(word="觉得", romanization="juéde")]

    items = derive_items(Category.PRONUNCIATION, "zh", words)

    heteronym = next(i for i in items if i.title.startswith("觉 has more than one reading"))
    assert set(heteronym.source_words) == {"睡觉", "觉得"}


def test_japanese_offline_items_cover_long_vowels_geminates_and_shared_kanji() -> None:
    vocab = _vocab("ja_jlpt_n5.csv")
    pronunciation = {i.title: i for i in derive_items(Category.PRONUNCIATION, "ja", vocab.items)}
    writing = {i.title: i for i in derive_items(Category.WRITING_SYSTEM, "ja", vocab.items)}

    assert "学校" in pronunciation["Double consonants: small っ"].source_words
    assert any(t.startswith("Long vowel ō") for t in pronunciation)
    assert {"学校", "学生"} <= set(writing["The kanji 学 in 学校, 学生"].source_words)


def test_languages_and_categories_without_offline_support_get_no_items() -> None:
    vocab = _vocab("es_cefr_a1.csv")

    assert derive_items(Category.PRONUNCIATION, "es", vocab.items) == []
    assert derive_items(Category.IDIOM, "zh", _vocab("zh_hsk1.csv").items) == []


def test_auto_provider_is_anthropic_with_a_key_and_offline_without() -> None:
    auto = Settings(provider=Provider.AUTO)

    assert resolve_provider(auto, {"ANTHROPIC_API_KEY": "k"}).provider is Provider.ANTHROPIC
    assert resolve_provider(auto, {}).provider is Provider.OFFLINE
    assert resolve_provider(auto.model_copy(update={"anthropic_secret_name": "s"}), {}).provider is Provider.ANTHROPIC
    assert resolve_provider(Settings(provider=Provider.BEDROCK), {}).provider is Provider.BEDROCK
    assert Settings().provider is Provider.AUTO


def test_an_offline_plan_has_only_the_offline_categories() -> None:
    vocab = _vocab("zh_hsk1.csv")
    level = Level.parse("HSK1")

    offline = plan_with_settings(vocab, Settings(provider=Provider.OFFLINE), run_id="r", language="zh", level=level)
    online = plan_with_settings(vocab, Settings(provider=Provider.ANTHROPIC), run_id="r", language="zh", level=level)

    assert {b.category for b in offline.batches} == set(OFFLINE_CATEGORIES) and offline.model == OFFLINE_MODEL
    assert {b.category for b in online.batches} == set(Category)
    assert set(LLM_CATEGORIES) | set(OFFLINE_CATEGORIES) == set(Category)

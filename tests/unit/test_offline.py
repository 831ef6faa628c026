"""The offline generator on the sample lists, the provider choice and the offline plan."""

from __future__ import annotations

import pytest

from havachat.languages.es import stressed, syllables
from havachat.models import OFFLINE_CATEGORIES, OFFLINE_MODEL, BatchSpec, Category, Level, VocabItem, VocabList
from havachat.offline import LLM_CATEGORIES, OfflineGenerator, derive_items
from havachat.planning import plan_with_settings
from havachat.postprocess import dedupe_items, feature_key, merge_similar
from havachat.readings import flag_readings
from havachat.settings import Provider, Settings, resolve_provider
from havachat.vocab import read_vocab_file
from tests.helpers import FIXTURES_DIR, ROOT

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


@pytest.mark.parametrize(
    ("name", "language", "level"),
    [("zh_hsk1.csv", "zh", "HSK1"), ("ja_jlpt_n5.csv", "ja", "N5"), ("es_cefr_a1.csv", "es", "A1")],
)
@pytest.mark.parametrize("category", OFFLINE_CATEGORIES)
def test_offline_items_on_the_samples_are_valid_cite_the_list_and_say_they_are_offline(
    name: str, language: str, level: str, category: Category
) -> None:
    vocab = _vocab(name)

    result = OfflineGenerator().generate_batch(
        _spec(category, len(vocab.items)), vocab.items, language=language, level=Level.parse(level), run_id="run-1"
    )

    assert len(result.items) >= 2, "at least the LLM target: offline items cost nothing"
    assert result.usage.calls == 0 and result.usage.cost_usd == 0
    assert all(set(i.source_words) <= set(vocab.words) for i in result.items)
    assert all(2 <= len(i.examples) <= 3 and i.category is category for i in result.items)
    assert {(i.provenance.generator, i.provenance.model) for i in result.items} == {("offline", OFFLINE_MODEL)}
    assert len({i.id for i in result.items}) == len(result.items)
    mismatches = [f for i in flag_readings(result.items, language) for f in i.reading_flags if f.status == "mismatch"]
    assert mismatches == [], "offline examples agree with the dictionary they come from"
    definitions = {w.word: w.definition for w in vocab.items}
    shown = [e for i in result.items for e in i.examples if e.text in definitions]
    assert all(e.translation == definitions[e.text] for e in shown), "a list word is glossed as the list does"


def test_chinese_offline_pronunciation_finds_the_sandhi_and_neutral_tones_of_hsk1() -> None:
    items = {i.title: i for i in derive_items(Category.PRONUNCIATION, "zh", _vocab("zh_hsk1.csv").items)}

    bu = items["Tone change of 不: bú before a fourth tone"]
    assert {(e.text, e.romanization, e.translation) for e in bu.examples} >= {
        ("不是", "bú shì", "is not; no"),
        ("不好", "bù hǎo", "not good"),
    }
    yi = items["Tone change of 一: yí before a fourth tone, yì before other tones"]
    assert ("一个人", "yí gè rén", "one person") in {(e.text, e.romanization, e.translation) for e in yi.examples}
    sandhi = items["Third-tone sandhi: 3 + 3 is said 2 + 3"]
    assert "水果" in sandhi.source_words
    assert {"杯子", "椅子", "桌子"} <= set(items["Neutral-tone ending 子 (zi)"].source_words)
    doubled = items["Neutral tone in doubled words"]
    assert set(doubled.source_words) >= {"爸爸", "妈妈"} and "family" not in doubled.explanation
    assert any(t.startswith("Tone pair 4-4") for t in items)


def _words(*rows: tuple[str, str, str, str]) -> list[VocabItem]:
    return [VocabItem(word=w, romanization=r, definition=d or None, pos=p) for w, r, d, p in rows]


def test_tone_changes_of_bu_and_yi_are_shown_in_real_phrases_only() -> None:
    words = _words(
        ("不", "bù", "not", "d"), ("有", "yǒu", "to have", "v"), ("是", "shì", "to be", "v"),
        ("吃", "chī", "to eat", "v"), ("一", "yī", "one", "num"), ("块", "kuài", "yuan (colloquial)", "m"),
        ("本", "běn", "measure word for books", "m"),
    )  # fmt: skip

    items = {i.title.split(":")[0]: i for i in derive_items(Category.PRONUNCIATION, "zh", words)}

    bu = [(e.text, e.translation) for e in items["Tone change of 不"].examples]
    assert bu == [("不是", "is not; no"), ("不吃", "don't eat")], "有 is negated with 没, never 不"
    yi = [(e.text, e.romanization, e.translation) for e in items["Tone change of 一"].examples]
    assert yi == [("一块钱", "yí kuài qián", "one yuan"), ("一本书", "yì běn shū", "a book")]


def test_words_without_a_meaning_are_never_glossed_with_a_placeholder() -> None:
    words = _words(("这个", "zhège", "", "r"), ("那个", "nàge", "", "r"), ("哪个", "nǎge", "which", "r"))

    items = derive_items(Category.PRONUNCIATION, "zh", words) + derive_items(Category.WRITING_SYSTEM, "zh", words)

    assert items == [], "one glossed word cannot make an item of two examples"
    glossed = [w.model_copy(update={"definition": "that one"}) if w.word == "那个" else w for w in words]
    ending = next(i for i in derive_items(Category.PRONUNCIATION, "zh", glossed) if "ending 个" in i.title)
    assert [(e.text, e.translation) for e in ending.examples] == [("那个", "that one"), ("哪个", "which")]
    assert ending.source_words == ["那个", "哪个", "这个"], "the unglossed word is still cited"


def test_tones_of_longer_words_come_only_from_a_written_reading() -> None:
    rows = (
        ("谢谢", "xièxie", "thanks"),
        ("朋友", "péngyou", "friend"),
        ("电视", "diànshì", "TV"),
        ("电话", "diànhuà", "phone"),
    )
    unread = [VocabItem(word=w, definition=d) for w, _, d in rows]
    read = [VocabItem(word=w, romanization=r, definition=d) for w, r, d in rows]

    assert derive_items(Category.PRONUNCIATION, "zh", unread) == [], "pypinyin would say xiè xiè and péng yǒu"
    items = derive_items(Category.PRONUNCIATION, "zh", read)
    assert [(i.title[:12], i.source_words) for i in items] == [("Tone pair 4-", ["电视", "电话"])]


def test_a_heteronym_read_two_ways_in_the_list_gets_one_item_naming_the_character() -> None:
    words = _words(("睡觉", "shuìjiào", "to sleep", "v"), ("觉得", "juéde", "to think", "v"))

    items = derive_items(Category.PRONUNCIATION, "zh", words)

    heteronym = next(i for i in items if i.title == "觉 has more than one reading")
    assert set(heteronym.source_words) == {"睡觉", "觉得"}
    assert feature_key(Category.PRONUNCIATION, heteronym.title, heteronym.source_words) == "pronunciation:觉"


def test_a_character_item_teaches_the_character_with_its_reading_and_meaning() -> None:
    words = _words(
        ("电", "diàn", "electricity", "n"),
        ("电脑", "diànnǎo", "computer", "n"),
        ("电视", "diànshì", "television", "n"),
        ("哪儿", "nǎr", "where", "r"),
        ("女儿", "nǚ'ér", "daughter", "n"),
        ("儿子", "érzi", "son", "n"),
    )

    items = {i.title: i for i in derive_items(Category.WRITING_SYSTEM, "zh", words)}

    electric = items["The character 电 (diàn)"]
    assert electric.explanation.startswith("电 (diàn, electricity) is the same character in 电脑, 电视")
    assert [e.text for e in electric.examples] == ["电", "电脑", "电视"]
    assert set(items["The character 儿 (ér)"].source_words) == {"女儿", "儿子"}, "not the erhua of 哪儿"


def test_the_five_thousand_word_list_offline_has_one_item_per_character_and_heteronym() -> None:
    vocab = _vocab("zh_top5000.csv")
    glossed = [w.model_copy(update={"definition": f"meaning {n}"}) for n, w in enumerate(vocab.items)]
    vocab = vocab.model_copy(update={"items": glossed})
    plan = plan_with_settings(
        vocab, Settings(provider=Provider.OFFLINE), run_id="r", language="zh", level=Level.parse("HSK6")
    )
    generator = OfflineGenerator()
    items = [
        item
        for spec in plan.batches
        for item in generator.generate_batch(
            spec, vocab.items[spec.word_start : spec.word_end], language="zh", level=Level.parse("HSK6"), run_id="r"
        ).items
    ]

    merged, count = merge_similar(dedupe_items(items)[0])

    assert len({b.chunk_index for b in plan.batches}) > 1, "the list is planned in several chunks"
    subjects = [
        (i.category, i.title.split(" ")[2] if i.title.startswith("The character") else i.title.split(" ")[0])
        for i in merged
        if i.title.startswith("The character") or i.title.endswith("has more than one reading")
    ]
    assert len(subjects) == len(set(subjects)) > 100, "no two items on the same character or heteronym"
    keys = [feature_key(i.category, i.title, i.source_words) for i in merged]
    assert len([k for k in keys if k]) == len({k for k in keys if k})
    assert count > 0 and sum(i.title.startswith("The character 人 ") for i in merged) == 1


def test_japanese_offline_items_cover_long_vowels_geminates_and_shared_kanji() -> None:
    vocab = _vocab("ja_jlpt_n5.csv")
    pronunciation = {i.title: i for i in derive_items(Category.PRONUNCIATION, "ja", vocab.items)}
    writing = {i.title: i for i in derive_items(Category.WRITING_SYSTEM, "ja", vocab.items)}

    assert "学校" in pronunciation["Double consonants: small っ"].source_words
    assert any(t.startswith("Long vowel ō") for t in pronunciation)
    assert {"学校", "学生"} <= set(writing["The kanji 学"].source_words)
    assert not {"今日", "明日", "昨日"} & set(writing["The kanji 日"].source_words), "read as a whole, not per kanji"
    assert {"今日", "明日", "昨日"} <= set(writing["Words read as a whole (jukujikun)"].source_words)
    assert "大きい" in writing["Okurigana: the kana ending of i-adjectives"].source_words
    assert "always ends in い" in writing["Okurigana: the kana ending of i-adjectives"].explanation


KOREAN = FIXTURES_DIR / "vocab" / "ko_topik1.csv"


def test_korean_offline_items_teach_one_sound_change_each() -> None:
    vocab = read_vocab_file(KOREAN)
    items = {i.title.split(":")[0]: i for i in derive_items(Category.PRONUNCIATION, "ko", vocab.items)}
    writing = derive_items(Category.WRITING_SYSTEM, "ko", vocab.items)

    assert {"음악", "먹어요", "있어요"} <= set(items["Liaison"].source_words)
    assert "좋아요" not in items["Liaison"].source_words, "a final ㅎ is silent, it does not move"
    assert "음악 [으막]" in items["Liaison"].explanation
    assert {"작년", "국물", "입니다"} <= set(items["Nasalisation"].source_words)
    assert {"신라", "설날", "연락"} <= set(items["ㄹ assimilation"].source_words)
    assert {"많다", "좋다", "축하"} <= set(items["Aspiration"].source_words)
    assert "많다" not in items["Nasalisation"].source_words and "신라" not in items["Nasalisation"].source_words
    assert {"빵", "짜다", "싸다"} <= set(items["Tense consonants"].source_words)
    assert [i.title for i in writing] == ["Double final consonants (겹받침)"]
    assert {"값", "닭", "읽다", "앉다"} <= set(writing[0].source_words) and "많다" not in writing[0].source_words


def test_korean_liaison_leaves_out_words_whose_final_is_said_otherwise_first() -> None:
    words = [
        VocabItem(word=w, definition=d)
        for w, d in (("발음", "pronunciation"), ("옷이", "clothes (subject)"), ("겉옷", "outer garment"),
                     ("떡볶이", "tteokbokki"), ("같이", "together"))
    ]  # fmt: skip

    liaison = derive_items(Category.PRONUNCIATION, "ko", words)[0]

    assert liaison.title.startswith("Liaison") and liaison.source_words == ["발음", "옷이"]
    assert liaison.explanation.endswith("Said: 발음 [바름], 옷이 [오시].")


@pytest.mark.parametrize(
    ("word", "parts", "stress"),
    [
        ("casa", "ca-sa", 0), ("canción", "can-ción", 1), ("día", "dí-a", 0), ("país", "pa-ís", 1),
        ("ciudad", "ciu-dad", 1), ("construir", "cons-truir", 1), ("perro", "pe-rro", 0),
        ("guitarra", "gui-ta-rra", 1), ("pingüino", "pin-güi-no", 1), ("hablar", "ha-blar", 1),
        ("árbol", "ár-bol", 0), ("teléfono", "te-lé-fo-no", 1), ("hoy", "hoy", 0), ("agua", "a-gua", 0),
        ("leer", "le-er", 1), ("aeropuerto", "a-e-ro-puer-to", 3), ("examen", "e-xa-men", 1), ("atlas", "at-las", 0),
    ],
)  # fmt: skip
def test_spanish_syllables_and_stress_follow_the_spelling_rules(word: str, parts: str, stress: int) -> None:
    found = syllables(word)

    assert "-".join(found) == parts and stressed(found) == stress


def test_spanish_offline_items_teach_the_stress_rules_and_the_written_accent() -> None:
    vocab = _vocab("es_cefr_a1.csv")
    extra = _words(
        ("tú", "", "you", "pronoun"),
        ("la música", "", "music", "noun"),
        ("el sábado", "", "Saturday", "noun"),
        ("fácil", "", "easy", "adjective"),
        ("el día", "", "day", "noun"),
        ("el país", "", "country", "noun"),
    )
    words = [*vocab.items, *extra]

    sounds = {i.title.split(":")[0]: i for i in derive_items(Category.PRONUNCIATION, "es", words)}
    writing = {i.title.split(":")[0]: i for i in derive_items(Category.WRITING_SYSTEM, "es", words)}

    llana = sounds["Stress on the next-to-last syllable"]
    assert ("la casa", "CA-sa") in {(e.text, e.romanization) for e in llana.examples} or "la casa" in llana.source_words
    assert {"comer", "hablar", "el español"} <= set(sounds["Stress on the last syllable"].source_words)
    assert {"el año", "la mañana"} <= set(sounds["The letter ñ"].source_words)
    assert {"adiós", "también", "el café"} <= set(writing["Written accent on the last syllable"].source_words)
    assert {"el lápiz", "fácil"} <= set(writing["Written accent on the next-to-last syllable"].source_words)
    assert "¿dónde?" not in writing["Written accent on the next-to-last syllable"].source_words, "a question word"
    assert {"la música", "el sábado"} <= set(
        writing["Stress three syllables from the end always has a written accent"].source_words
    )
    assert {"el día", "el país"} <= set(writing["A written accent on í or ú splits two vowels"].source_words)
    assert {"¿qué?", "¿dónde?", "¿cuánto?"} <= set(writing["Question words carry a written accent"].source_words)
    pair = writing["tú or tu"]
    assert [e.text for e in pair.examples] == ["¿Y tú?", "tu casa"] and pair.source_words == ["tú"]


def test_languages_and_categories_without_offline_support_get_no_items() -> None:
    assert derive_items(Category.PRONUNCIATION, "fr", [VocabItem(word="bonjour", definition="hello")]) == []
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

"""Dictionary checks of romanization (pypinyin, SudachiPy, korean-romanizer): real dictionaries, no fakes."""

from __future__ import annotations

import pytest

from havachat.languages import checker_for
from havachat.models import (
    Category,
    Example,
    LearningItem,
    LevelSystem,
    Provenance,
    ReadingStatus,
    VocabItem,
    VocabKind,
    VocabList,
)
from havachat.readings import (
    FILLED_MARK,
    check_vocab_readings,
    fill_romanization,
    flag_readings,
    summarise_readings,
)

OK, AMBIGUOUS, MISMATCH = ReadingStatus.OK, ReadingStatus.AMBIGUOUS, ReadingStatus.MISMATCH


@pytest.mark.parametrize(
    ("text", "given", "status"),
    [
        ("你好", "nǐ hǎo", OK),
        ("你好", "nǐhǎo", OK),
        ("你好", "ni3 hao3", OK),
        ("你好", "ní hǎo", OK),  # third-tone sandhi written as said
        ("你好吗？", "Nǐ hǎo ma?", OK),
        ("你好", "nì hǎo", MISMATCH),
        ("你好", "nǐ hāo", MISMATCH),
        ("银行", "yínháng", OK),
        ("银行", "yínxíng", MISMATCH),  # 行 is háng in 银行: the phrase fixes the reading
        ("行", "xíng", OK),
        ("行", "háng", AMBIGUOUS),
        ("我们走了", "wǒmen zǒu le", OK),
        ("我们走了", "wǒmen zǒu liǎo", MISMATCH),  # 了 after a verb, ending the sentence: le
        ("得", "děi", AMBIGUOUS),
        ("谢谢", "xièxie", OK),  # neutral tone on the second syllable, as dictionaries write it
        ("谢谢", "xiē xie", MISMATCH),
        ("不是", "bú shì", OK),
        ("不是", "bù shì", OK),
        ("一个", "yí gè", OK),
        ("哪儿", "nǎr", OK),  # erhua
        ("女儿", "nv3 er2", OK),  # v for ü, tone numbers
    ],
)
def test_pinyin_is_checked_against_pypinyin(text: str, given: str, status: ReadingStatus) -> None:
    result = checker_for("zh").check(text, given)

    assert result is not None and result.status is status, result


def test_a_pinyin_mismatch_reports_the_dictionary_reading() -> None:
    result = checker_for("zh").check("你好", "nì hǎo")

    assert result is not None and result.expected == "nǐ hǎo"


def test_chinese_text_with_latin_or_digits_is_not_checked() -> None:
    assert checker_for("zh").check("我有3个", "wǒ yǒu sān gè") is None


@pytest.mark.parametrize(
    ("text", "given", "status"),
    [
        ("学校", "gakkō", OK),
        ("学校", "がっこう", OK),
        ("学校", "gakkou", OK),
        ("学校", "gakou", MISMATCH),
        ("私は学生です。", "Watashi wa gakusei desu.", OK),
        ("東京へ行きます", "Tōkyō e ikimasu", OK),
        ("水を飲む", "mizu o nomu", OK),
        ("ちょっと待って", "chotto matte", OK),
        ("新聞", "shimbun", OK),
        ("大人", "daijin", MISMATCH),
        ("人", "jin", MISMATCH),  # a lone 人 is hito; jin is its reading in compounds (日本人)
        ("日本", "nihon", AMBIGUOUS),  # nihon and nippon are both standard
        ("日本語を話します", "nihongo o hanasimasu", MISMATCH),
    ],
)
def test_japanese_readings_are_checked_against_the_analyser_in_context(
    text: str, given: str, status: ReadingStatus
) -> None:
    result = checker_for("ja").check(text, given)

    assert result is not None and result.status is status, result


@pytest.mark.parametrize(
    ("text", "given", "status"),
    [
        ("한국말", "hangungmal", OK),  # nasalisation
        ("감사합니다", "gamsahamnida", OK),
        ("같이", "gachi", OK),  # palatalisation
        ("신라", "silla", OK),  # ㄹ assimilation
        ("먹어요", "meogeoyo", OK),  # liaison
        ("먹어요", "mogoyo", MISMATCH),
    ],
)
def test_korean_romanization_follows_the_sound_change_rules(text: str, given: str, status: ReadingStatus) -> None:
    result = checker_for("ko").check(text, given)

    assert result is not None and result.status is status, result


def test_languages_without_a_checker_are_skipped_not_flagged() -> None:
    item = _item("es", [("Hola", "hola-wrong"), ("Adiós", "x")])

    assert checker_for("es") is None
    assert flag_readings([item], "es") == [item]
    assert summarise_readings([item], [VocabItem(word="hola", romanization="x")], "es").checked is False


def _item(language: str, examples: list[tuple[str, str]], category: Category = Category.PRONUNCIATION) -> LearningItem:
    return LearningItem(
        id=f"{language}-x",
        language=language,
        category=category,
        level_system=LevelSystem.HSK,
        level_min="1",
        level_max="1",
        title="t",
        explanation="e",
        examples=[Example(text=t, romanization=r, translation="x") for t, r in examples],
        source_words=["w"],
        provenance=Provenance(run_id="r", batch_id="b", model="m", prompt_version="p"),
    )


def test_flags_land_on_the_item_and_are_counted_per_category() -> None:
    wrong = _item("zh", [("你好", "nì hǎo"), ("谢谢", "xièxie"), ("行", "háng")])
    right = _item("zh", [("你好", "nǐ hǎo"), ("不是", "bú shì")], Category.WRITING_SYSTEM)

    flagged = flag_readings([wrong, right], "zh")
    summary = summarise_readings(flagged, [], "zh")

    assert [(f.example, f.status) for f in flagged[0].reading_flags] == [(0, MISMATCH), (2, AMBIGUOUS)]
    assert flagged[0].reading_flags[0].expected == "nǐ hǎo" and flagged[0].reading_flags[0].given == "nì hǎo"
    assert flagged[1].reading_flags == []
    assert (summary.mismatches, summary.ambiguous, summary.examples_checked) == (1, 1, 5)
    assert summary.by_category["pronunciation"].mismatches == 1
    assert summary.by_category["writing_system"].mismatches == 0


def test_missing_input_romanization_is_filled_and_disagreeing_input_reported() -> None:
    vocab = VocabList(
        source="list.csv",
        items=[
            VocabItem(word="你好"),
            VocabItem(word="谢谢", romanization="xièxie"),
            VocabItem(word="中国", romanization="zhòngguó"),
            VocabItem(word="了", kind=VocabKind.GRAMMAR),
        ],
    )

    filled = fill_romanization(vocab, "zh")
    report = check_vocab_readings(filled.items, "zh")

    assert filled.items[0].romanization == "nǐhǎo" and filled.items[0].extra[FILLED_MARK] == "dictionary"
    assert filled.items[1] == vocab.items[1]
    assert filled.items[3].romanization is None, "grammar points are not words to romanize"
    assert (report.filled, report.checked, report.mismatches) == (1, 2, 1)
    assert report.flagged[0].word == "中国" and report.flagged[0].expected == "zhōng guó"


def test_japanese_and_korean_fill_with_kana_and_revised_romanization() -> None:
    ja = fill_romanization(VocabList(source="j.csv", items=[VocabItem(word="学校")]), "ja")
    ko = fill_romanization(VocabList(source="k.csv", items=[VocabItem(word="한국말")]), "ko")

    assert ja.items[0].romanization == "がっこう"
    assert ko.items[0].romanization == "hangungmal"

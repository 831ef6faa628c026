"""Intake hygiene (issue 14): no invisible characters, no silent change, warnings naming the row.

Invisible format characters leave words, control characters leave every field, ZWNJ/ZWJ stay where a
script needs them, a lone surrogate is refused naming the item, the CSV delimiter is detected, and
merged duplicates, normalisations and words in another script come back as warnings.
"""

from __future__ import annotations

import json
import unicodedata

import pytest

from havachat.errors import InvalidVocabFile, VocabProblem
from havachat.models import VocabKind, VocabList, VocabWarning
from havachat.vocab import context_from_key, parse_vocab


def csv_of(*rows: str) -> bytes:
    return ("word,definition\n" + "\n".join(rows) + "\n").encode()


def rejected(data: bytes, filename: str) -> list[VocabProblem]:
    with pytest.raises(InvalidVocabFile) as caught:
        parse_vocab(data, filename)
    str(caught.value).encode("utf-8")  # printable whatever the file held: no lone surrogate, no control
    return caught.value.problems


def warned(vocab: VocabList) -> list[tuple[int | None, str]]:
    return [(warning.row, warning.problem) for warning in vocab.warnings]


# --- invisible format characters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\u200b", "ZERO WIDTH SPACE"),
        ("\u202e", "RIGHT-TO-LEFT OVERRIDE"),
        ("\u202d", "LEFT-TO-RIGHT OVERRIDE"),
        ("\u202a", "LEFT-TO-RIGHT EMBEDDING"),
        ("\u202c", "POP DIRECTIONAL FORMATTING"),
        ("\u2066", "LEFT-TO-RIGHT ISOLATE"),
        ("\u2067", "RIGHT-TO-LEFT ISOLATE"),
        ("\u2068", "FIRST STRONG ISOLATE"),
        ("\u2069", "POP DIRECTIONAL ISOLATE"),
        ("\u200e", "LEFT-TO-RIGHT MARK"),
        ("\u200f", "RIGHT-TO-LEFT MARK"),
        ("\ufeff", "ZERO WIDTH NO-BREAK SPACE"),  # a byte order mark in the middle of the file
        ("\u2060", "WORD JOINER"),
        ("\u00ad", "SOFT HYPHEN"),
    ],
)
def test_an_invisible_format_character_leaves_the_word_with_a_warning_naming_the_row(char: str, name: str) -> None:
    vocab = parse_vocab(csv_of("hola,hello", f"{char}你{char}好{char},hi"), "list.csv")

    assert vocab.words == ["hola", "你好"]
    code = f"U+{ord(char):04X}"
    assert warned(vocab) == [(3, f"'word': removed invisible characters {code} {name}")]


def test_a_word_hidden_by_an_override_reads_as_written_and_merges_with_its_plain_twin() -> None:
    vocab = parse_vocab(csv_of("\u202eolleh,reversed", "olleh,plain"), "list.csv")

    assert [(item.word, item.definition) for item in vocab.items] == [("olleh", "reversed")]
    assert warned(vocab) == [
        (2, "'word': removed invisible characters U+202E RIGHT-TO-LEFT OVERRIDE"),
        (3, "'olleh' repeats row 2 and was merged into it; its definition 'plain' dropped (the first value wins)"),
    ]


def test_format_characters_outside_the_word_are_kept() -> None:
    # A right-to-left mark is how a Hebrew gloss keeps "3" beside its word
    vocab = parse_vocab(csv_of("shalosh,\u05e9\u05dc\u05d5\u05e9 3\u200f"), "list.csv")

    assert vocab.items[0].definition == "\u05e9\u05dc\u05d5\u05e9 3\u200f"
    assert vocab.warnings == []


@pytest.mark.parametrize(
    "word",
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian می‌خواهم: ZWNJ between two Arabic letters
        "\u0915\u094d\u200d\u0937",  # Devanagari क्‍ष: ZWJ after the virama asks for the half form
        "\u0915\u094d\u200c\u0937",  # ... and ZWNJ for the explicit virama
        "\u09b0\u200d\u09cd\u09af",  # Bengali র‍্য (ya-phala)
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # a family emoji (a ZWJ sequence)
        "\U0001f3f3\ufe0f\u200d\U0001f308",  # the rainbow flag: ZWJ after a variation selector
    ],
)
def test_zwnj_and_zwj_stay_where_a_script_needs_them(word: str) -> None:
    vocab = parse_vocab(csv_of(f"{word},x"), "list.csv")

    assert vocab.words == [word]
    assert vocab.warnings == []


@pytest.mark.parametrize(
    ("written", "word"),
    [
        ("你\u200d好", "你好"),  # Han does not join
        ("ab\u200cc", "abc"),
        ("\u200c\u0645\u06cc", "\u0645\u06cc"),  # at the start of a word a joiner joins nothing
        ("\u0645\u06cc\u200d", "\u0645\u06cc"),
    ],
)
def test_zwnj_and_zwj_where_no_script_needs_them_are_removed(written: str, word: str) -> None:
    vocab = parse_vocab(csv_of(f"{written},x"), "list.csv")

    assert vocab.words == [word]
    assert [row for row, _ in warned(vocab)] == [2]


# --- control characters -------------------------------------------------------------------------


def test_ansi_escapes_and_bel_leave_every_field_each_reported_with_its_column() -> None:
    data = (
        "word,definition,pos,notes\n"
        "\x07你好,\x1b[31mhello\x1b[0m,\x1b]0;title\x07noun,\x85see\x9b also\x7f\n"
        "再见,goodbye,verb,plain\n"
    ).encode()

    vocab = parse_vocab(data, "list.csv")

    item = vocab.items[0]
    assert (item.word, item.definition, item.pos, item.extra) == ("你好", "hello", "noun", {"notes": "see also"})
    assert warned(vocab) == [
        (2, "'word': removed control characters \\x07"),
        (2, "'definition': removed control characters \\x1b[31m, \\x1b[0m"),
        (2, "'pos': removed control characters \\x1b]0;title\\x07"),
        (2, "'notes': removed control characters \\x85, \\x9b, \\x7f"),
    ]


def test_tabs_and_newlines_inside_a_field_are_whitespace_collapsed_without_a_warning() -> None:
    vocab = parse_vocab(b'word,definition\n"early\tmorning","to get\r\nup"\n', "list.csv")

    assert (vocab.words, vocab.items[0].definition) == (["early morning"], "to get up")
    assert vocab.warnings == []


def test_controls_in_json_strings_are_removed_and_reported_with_the_item() -> None:
    vocab = parse_vocab(json.dumps([{"word": "a", "definition": "be\u0007ep"}]).encode(), "list.json")

    assert vocab.items[0].definition == "beep"
    assert warned(vocab) == [(1, "'definition': removed control characters \\x07 (item 1)")]


def test_a_header_s_invisible_characters_are_removed_so_the_column_is_found() -> None:
    vocab = parse_vocab("\u200bword,\x1b[1mdefinition\nhola,hello\n".encode(), "list.csv")

    assert (vocab.words, vocab.items[0].definition) == (["hola"], "hello")
    assert warned(vocab) == [
        (1, "'column 1': removed invisible characters U+200B ZERO WIDTH SPACE"),
        (1, "'column 2': removed control characters \\x1b[1m"),
    ]


# --- lone surrogates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "row", "column", "where"),
    [
        (b'["ok", "\\ud83d"]', "list.json", 2, "word", " (item 2)"),
        (b'[{"word": "a", "definition": "x\\udc00"}]', "list.json", 1, "definition", " (item 1)"),
        (b'{"items": ["a"], "grammar": [{"word": "\\ud83d!"}]}', "list.json", 1, "word", " (grammar item 1)"),
        (b'[{"word": "a", "\\ud83d": "b"}]', "list.json", 1, "\\ud83d", " (item 1)"),
        (b'{"word": "a"}\n{"word": "\\udfff"}\n', "list.jsonl", 2, "word", ""),
    ],
)
def test_a_lone_surrogate_is_refused_naming_the_item_and_column(
    data: bytes, filename: str, row: int, column: str, where: str
) -> None:
    (problem,) = rejected(data, filename)

    assert (problem.row, problem.column) == (row, column)
    assert "a lone UTF-16 surrogate \\ud" in problem.problem
    assert problem.problem.endswith(f"is not text{where}")


def test_a_lone_surrogate_in_the_envelope_language_is_refused() -> None:
    (problem,) = rejected(b'{"language": "\\ud83d", "items": ["a"]}', "list.json")

    assert problem.column == "language" and "lone UTF-16 surrogate \\ud83d" in problem.problem


def test_an_escaped_surrogate_pair_is_one_character() -> None:
    assert parse_vocab(b'["\\ud83d\\ude00"]', "list.json").words == ["\U0001f600"]


def test_problems_quoting_the_input_are_printable() -> None:
    problems = rejected(b'{"items": ["a"], "\\u001b[2Jx": 1, "\\ud800": 2}', "list.json")

    assert [p.problem for p in problems] == [
        "unknown key '\\x1b[2Jx' (expected language, level, items, grammar)",
        "unknown key '\\ud800' (expected language, level, items, grammar)",
    ]


# --- CSV dialect --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "definition"),
    [
        (b"word,definition\nhola,hello; hi\n", "list.csv", "hello; hi"),
        (b"word;definition\nhola;hello, hi\n", "list.csv", "hello, hi"),  # a European Excel export
        (b'"word";"definition"\n"hola";"hello; hi"\n', "list.csv", "hello; hi"),
        (b"word\tdefinition\nhola\thello, hi\n", "list.csv", "hello, hi"),
        (b"word|definition\nhola|hello, hi\n", "list.csv", "hello, hi"),
        (b'word,definition\nhola,"hello\thi"\n', "list.tsv", "hello hi"),  # a .tsv that holds commas
        (b"\n\nword;definition\nhola;hello, hi\n", "list.csv", "hello, hi"),  # blank lines before the header
    ],
)
def test_the_delimiter_is_detected_from_the_header(data: bytes, filename: str, definition: str) -> None:
    vocab = parse_vocab(data, filename)

    assert [(item.word, item.definition) for item in vocab.items] == [("hola", definition)]
    assert vocab.warnings == []


def test_the_extension_s_delimiter_is_tried_first() -> None:
    # Under tabs the header is 'word' and 'definition,pos'; under commas 'word\tdefinition' and 'pos'
    vocab = parse_vocab(b"word\tdefinition,pos\nhola\thello, hi\n", "list.tsv")

    assert vocab.items[0].extra == {"definition,pos": "hello, hi"}


def test_a_single_column_list_keeps_its_commas_and_semicolons() -> None:
    assert parse_vocab(b"word\na;b\n", "list.csv").words == ["a;b"]


def test_an_undetectable_header_is_named_for_the_delimiter_it_looks_like() -> None:
    (problem,) = rejected(b"palabra;significado\nhola;hello\n", "list.csv")

    assert problem.row == 1
    assert problem.problem == (
        "no word column (found 'palabra;significado'); it looks semicolon-delimited, with columns 'palabra', "
        "'significado'; name one 'word', 'term' or 'hanzi'"
    )


def test_a_header_that_no_delimiter_splits_says_nothing_of_delimiters() -> None:
    (problem,) = rejected(b"palabra\nhola\n", "list.csv")

    assert problem.problem == "no word column (found 'palabra'); name one 'word', 'term' or 'hanzi'"


# --- warnings: duplicates, normalisations, scripts ----------------------------------------------


def test_merged_duplicates_are_warned_on_the_later_row_naming_what_was_dropped() -> None:
    nfd = unicodedata.normalize("NFD", "adiós")
    data = f"word,definition,pos\nadiós,goodbye,\n{nfd},bye,interjection\nadiós,goodbye,\n".encode()

    vocab = parse_vocab(data, "list.csv")

    assert [(i.word, i.definition, i.pos) for i in vocab.items] == [("adiós", "goodbye", "interjection")]
    assert warned(vocab) == [
        (3, "'adiós' repeats row 2 and was merged into it; its definition 'bye' dropped (the first value wins)"),
        (4, "'adiós' repeats row 2 and was merged into it"),
    ]


def test_a_json_duplicate_names_the_items_and_a_kept_type() -> None:
    data = json.dumps({"items": ["是", {"word": "的"}], "grammar": [{"word": "的", "definition": "particle"}]})

    vocab = parse_vocab(data.encode(), "list.json")

    assert [(i.word, i.kind, i.definition) for i in vocab.items] == [
        ("是", VocabKind.WORD, None),
        ("的", VocabKind.WORD, "particle"),
    ]
    assert warned(vocab) == [
        (
            1,
            "'的' repeats item 2 and was merged into it; its type 'grammar' dropped (the first value wins)"
            " (grammar item 1)",
        )
    ]


def test_a_long_value_is_cut_in_a_warning() -> None:
    long = "x" * 200
    vocab = parse_vocab(csv_of(f"a,{long}", f"a,{long}y"), "list.csv")

    (problem,) = [warning.problem for warning in vocab.warnings]
    assert f"definition '{'x' * 60}...' dropped" in problem and len(problem) < 200


def test_width_variants_folded_are_reported() -> None:
    vocab = parse_vocab("word\nＡＢＣ１\nｶﾞｯｺｳ\n".encode(), "list.csv")

    assert vocab.words == ["ABC1", "ガッコウ"]
    assert warned(vocab) == [
        (2, "'word': folded width variants ＡＢＣ１ -> ABC1"),
        (3, "'word': folded width variants ｶﾞｯｺｳ -> ガッコウ"),
    ]


@pytest.mark.parametrize(
    ("language", "word", "warning"),
    [
        ("zh", "안녕", "'안녕' has Hangul letters, unusual for zh, written in Han"),
        ("zh", "こんにちは", "'こんにちは' has Hiragana letters, unusual for zh, written in Han"),
        ("zh", "привет", "'привет' has Cyrillic letters, unusual for zh, written in Han"),
        ("zh", "한자漢字", "'한자漢字' has Hangul letters, unusual for zh, written in Han"),
        ("ja", "학교", "'학교' has Hangul letters, unusual for ja, written in Han, Hiragana and Katakana"),
        ("ko", "がっこう", "'がっこう' has Hiragana letters, unusual for ko, written in Hangul and Han"),
        ("es", "你好", "'你好' has Han letters, unusual for es, written in Latin"),
        ("ru", "مرحبا", "'مرحبا' has Arabic letters, unusual for ru, written in Cyrillic"),
        ("zh-hant", "ありがとう", "'ありがとう' has Hiragana letters, unusual for zh-hant, written in Han"),
    ],
)
def test_a_word_in_another_script_than_the_language_is_warned(language: str, word: str, warning: str) -> None:
    vocab = parse_vocab(csv_of("ok,x", f"{word},y"), "list.csv", language=language)

    assert warned(vocab) == [(3, warning)]


@pytest.mark.parametrize(
    ("language", "word"),
    [
        ("zh", "卡拉OK"),  # Latin letters fit every language: loanwords, abbreviations
        ("zh", "T恤"),
        ("ja", "カラオケ"),
        ("ja", "食べる"),
        ("ja", "ラーメン"),  # the prolonged sound mark
        ("ko", "학교 (學校)"),  # hanja
        ("ru", "привет"),
        ("es", "¿qué?"),
        ("zh", "123"),
        ("bo", "你好"),  # Tibetan: a script havachat does not know, not checked
    ],
)
def test_a_word_in_its_language_s_scripts_is_not_warned(language: str, word: str) -> None:
    vocab = parse_vocab(csv_of(f"{word},x"), "list.csv", language=language)

    assert vocab.warnings == []


def test_without_a_language_no_script_is_checked() -> None:
    assert parse_vocab(csv_of("안녕,x", "你好,y"), "list.csv").warnings == []


def test_the_envelope_language_is_checked_unless_the_caller_declares_one() -> None:
    data = json.dumps({"language": "zh", "items": ["你好", "안녕"]}).encode()

    from_envelope = parse_vocab(data, "list.json")
    declared = parse_vocab(data, "list.json", language="ko")

    assert warned(from_envelope) == [(2, "'안녕' has Hangul letters, unusual for zh, written in Han (item 2)")]
    assert declared.language == "zh" and declared.warnings == []


def test_a_byte_order_mark_starting_a_json_line_is_removed_with_a_warning() -> None:
    vocab = parse_vocab('{"word": "a"}\n\ufeff{"word": "b"}\n'.encode(), "list.jsonl")

    assert vocab.words == ["a", "b"]
    assert warned(vocab) == [(2, "removed a byte order mark (U+FEFF) at the start of the line")]


def test_warnings_past_a_thousand_are_counted_not_listed() -> None:
    vocab = parse_vocab(b"word\n" + b"a\n" * 1101, "list.csv")

    assert len(vocab.warnings) == 1001
    assert vocab.warnings[-1] == VocabWarning(row=None, problem="100 more warnings not listed (the first 1,000 are)")


def test_a_warning_prints_with_its_row() -> None:
    assert str(VocabWarning(row=3, problem="x")) == "row 3: x"
    assert str(VocabWarning(row=None, problem="x")) == "x"


# --- language codes in files and keys -----------------------------------------------------------


def test_an_envelope_language_is_standardised_or_refused_with_a_suggestion() -> None:
    assert parse_vocab(b'{"language": "pt_BR", "items": ["a"]}', "list.json").language == "pt-br"

    (problem,) = rejected(b'{"language": "english", "items": ["a"]}', "list.json")
    assert problem.column == "language"
    assert problem.problem == "'english' is not a language code (BCP 47); did you mean 'en'?"


def test_an_upload_key_s_language_is_standardised_or_refused_with_a_suggestion() -> None:
    assert context_from_key("uploads/eng/A1/list.csv").language == "en"

    with pytest.raises(InvalidVocabFile, match="'spanish' is not a language code \\(BCP 47\\); did you mean 'es'\\?"):
        context_from_key("uploads/spanish/A1/list.csv")
    with pytest.raises(InvalidVocabFile, match="'xx' is not a language code"):
        context_from_key("uploads/xx/A1/list.csv")

"""Vocab intake: the sample lists load, every format and alias works, and bad files are named precisely."""

from __future__ import annotations

import gzip
import json
import unicodedata
from pathlib import Path

import pytest

from havachat.errors import InvalidVocabFile, VocabProblem
from havachat.models import Level, LevelSystem, VocabKind
from havachat.settings import Settings
from havachat.vocab import (
    SUPPORTED_SUFFIXES,
    UploadContext,
    VocabLimits,
    context_from_key,
    parse_vocab,
    read_vocab_file,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vocab"
# The large samples stay in the shared data folder next to the repo rather than in the repo itself.
SHARED_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "vocab"


def rejected(data: bytes, filename: str, limits: VocabLimits | None = None) -> list[VocabProblem]:
    """Parse a file that must be rejected; return its problems, each checked to name the file."""
    with pytest.raises(InvalidVocabFile) as caught:
        parse_vocab(data, filename, limits or VocabLimits())
    problems = caught.value.problems
    assert problems
    assert all(problem.file == filename for problem in problems)
    assert filename in str(caught.value)
    return problems


def only(problems: list[VocabProblem]) -> VocabProblem:
    assert len(problems) == 1, problems
    return problems[0]


# --- the sample lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "rows", "first_word", "first_romanization"),
    [
        (FIXTURES / "zh_hsk1.csv", 151, "爱", "ài"),
        (FIXTURES / "ja_jlpt_n5.csv", 93, "会う", "あう"),
        # The data README says 37, but the file holds 38 distinct words on 39 lines.
        (FIXTURES / "es_cefr_a1.csv", 38, "hola", None),
        pytest.param(SHARED_SAMPLES / "zh_top5000.csv", 5000, "了", "le", marks=pytest.mark.scale),
        pytest.param(SHARED_SAMPLES / "zh_top20000.csv", 20000, "了", "le", marks=pytest.mark.scale),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else None,
)
def test_sample_lists_load_with_default_limits(
    path: Path, rows: int, first_word: str, first_romanization: str | None
) -> None:
    vocab = read_vocab_file(path)

    assert len(vocab.items) == rows
    assert vocab.items[0].word == first_word
    assert vocab.items[0].romanization == first_romanization
    assert vocab.source == str(path)
    assert vocab.language is None
    assert vocab.level is None
    assert all(item.kind is VocabKind.WORD for item in vocab.items)


def test_reading_column_is_romanization_in_the_japanese_list() -> None:
    vocab = read_vocab_file(FIXTURES / "ja_jlpt_n5.csv")

    first = vocab.items[0]
    assert (first.word, first.romanization, first.definition, first.pos) == (
        "会う",
        "あう",
        "to meet",
        "verb",
    )
    assert first.extra == {}


def test_spanish_list_has_no_romanization_and_keeps_inverted_marks() -> None:
    vocab = read_vocab_file(FIXTURES / "es_cefr_a1.csv")

    assert all(item.romanization is None for item in vocab.items)
    assert "¿qué?" in vocab.words


# --- formats ------------------------------------------------------------------------------------


def test_csv_with_bom_aliases_and_extra_columns() -> None:
    data = "\ufeff Hanzi ,PINYIN,Meaning,Part of Speech,Notes\n爱,ài,to love,v,common\n八,bā,eight,,\n".encode()

    vocab = parse_vocab(data, "hsk.csv")

    assert vocab.words == ["爱", "八"]
    assert vocab.items[0].model_dump() == {
        "word": "爱",
        "romanization": "ài",
        "definition": "to love",
        "pos": "v",
        "kind": VocabKind.WORD,
        "extra": {"Notes": "common"},
    }
    assert (vocab.items[1].pos, vocab.items[1].extra) == (None, {})


def test_tsv_keeps_commas_inside_fields() -> None:
    data = "word\treading\tdefinition\n杯子\tbēizi\tcup, glass\n".encode()

    vocab = parse_vocab(data, "list.TSV")

    assert (vocab.items[0].word, vocab.items[0].romanization, vocab.items[0].definition) == (
        "杯子",
        "bēizi",
        "cup, glass",
    )


def test_text_is_nfc_trimmed_and_whitespace_collapsed() -> None:
    nfd = unicodedata.normalize("NFD", "adiós")
    data = f'word,definition\n  {nfd}  ,"good\n\t  bye"\n'.encode()

    item = parse_vocab(data, "es.csv").items[0]

    assert item.word == "adiós"
    assert unicodedata.is_normalized("NFC", item.word)
    assert item.definition == "good bye"


def test_blank_lines_and_fewer_cells_are_fine() -> None:
    data = b"word,romanization,definition\n\nni,,\r\n   \nhao\n"

    vocab = parse_vocab(data, "list.csv")

    assert vocab.words == ["ni", "hao"]
    assert vocab.items[1].romanization is None
    assert vocab.items[1].definition is None


def test_type_column_marks_grammar_points() -> None:
    data = "word,type\n爱,word\n是…的,Grammar\n了,\n".encode()

    vocab = parse_vocab(data, "list.csv")

    assert [item.kind for item in vocab.items] == [VocabKind.WORD, VocabKind.GRAMMAR, VocabKind.WORD]


def test_json_list_of_objects_and_strings() -> None:
    data = json.dumps(
        [{"word": "爱", "pinyin": "ài", "frequency": 12, "score": 0.5}, "八", {"term": "爸爸"}],
        ensure_ascii=False,
    ).encode()

    vocab = parse_vocab(data, "list.json")

    assert vocab.words == ["爱", "八", "爸爸"]
    assert vocab.items[0].romanization == "ài"
    assert vocab.items[0].extra == {"frequency": "12", "score": "0.5"}
    assert (vocab.language, vocab.level) == (None, None)


def test_json_envelope_gives_language_level_and_grammar() -> None:
    data = json.dumps(
        {
            "language": "ZH",
            "level": "hsk1",
            "items": [{"word": "爱", "definition": "to love"}, "八"],
            "grammar": ["是…的", {"word": "了", "definition": "completed action"}],
        },
        ensure_ascii=False,
    ).encode()

    vocab = parse_vocab(data, "hsk1.json")

    assert vocab.language == "zh"
    assert vocab.level == Level(system=LevelSystem.HSK, label="1")
    assert vocab.words == ["爱", "八", "是…的", "了"]
    assert [item.kind for item in vocab.items] == [VocabKind.WORD] * 2 + [VocabKind.GRAMMAR] * 2


def test_jsonl_objects_and_strings_one_per_line() -> None:
    data = '{"word": "会う", "kana": "あう"}\n\n"青い"\r\n{"vocab": "赤い", "meaning": "red"}\n'.encode()

    vocab = parse_vocab(data, "n5.jsonl")

    assert vocab.words == ["会う", "青い", "赤い"]
    assert vocab.items[0].romanization == "あう"
    assert vocab.items[2].definition == "red"


def test_duplicate_words_merge_into_the_first_occurrence() -> None:
    data = "word,pinyin,definition,pos,note\n爱,ài,,v,a\n八,bā,eight,num,\n爱,ai,to love,,b\n 爱 ,,,,\n".encode()

    vocab = parse_vocab(data, "list.csv")

    assert vocab.words == ["爱", "八"]
    love = vocab.items[0]
    assert (love.romanization, love.definition, love.pos, love.extra) == ("ài", "to love", "v", {"note": "a"})


def test_nfc_and_nfd_spellings_of_a_word_are_one_word() -> None:
    nfc, nfd = "canción", unicodedata.normalize("NFD", "canción")
    assert nfc != nfd
    data = f"word,definition\n{nfc},song\n{nfd},a song\n".encode()

    vocab = parse_vocab(data, "es.csv")

    assert vocab.words == ["canción"]
    assert vocab.items[0].definition == "song"


def test_words_differing_only_in_case_stay_distinct() -> None:
    vocab = parse_vocab(b"word\nPolish\npolish\n", "en.csv")

    assert vocab.words == ["Polish", "polish"]


def test_limits_come_from_settings() -> None:
    settings = Settings(max_file_bytes=1000, max_rows=10, max_field_chars=20)

    assert VocabLimits.from_settings(settings) == VocabLimits(max_bytes=1000, max_rows=10, max_field_chars=20)
    assert VocabLimits() == VocabLimits.from_settings(Settings())


def test_read_vocab_file_rejects_a_big_file_with_its_real_size(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"word\n" + b"x\n" * 500)

    with pytest.raises(InvalidVocabFile) as caught:
        read_vocab_file(path, VocabLimits(max_bytes=100))

    problem = only(caught.value.problems)
    assert problem.file == str(path)
    assert "1,005 bytes" in problem.problem
    assert "limit of 100 bytes" in problem.problem


def test_supported_suffixes() -> None:
    assert set(SUPPORTED_SUFFIXES) == {".csv", ".tsv", ".json", ".jsonl"}


# --- bad files ----------------------------------------------------------------------------------


def test_invalid_utf8_names_offset_and_line() -> None:
    data = b"word,definition\nhola,hello\nadi" + b"\xf3s,goodbye\n"  # Latin-1 'ó'

    problem = only(rejected(data, "latin1.csv"))

    assert problem.row == 3
    assert "not valid UTF-8" in problem.problem
    assert "byte offset 30" in problem.problem
    assert "line 3" in problem.problem
    assert "re-save" in problem.problem


def test_utf16_is_named() -> None:
    problem = only(rejected("word\n爱\n".encode("utf-16"), "list.csv"))

    assert "UTF-16" in problem.problem


def test_utf16_without_bom_is_caught_by_its_nul_bytes() -> None:
    problem = only(rejected("word\n爱\n".encode("utf-16-le"), "list.tsv"))

    assert problem.row == 1
    assert "NUL byte" in problem.problem
    assert "UTF-16" in problem.problem


def test_nul_byte_names_the_line() -> None:
    problem = only(rejected(b"word\nok\nbad\x00word\n", "list.csv"))

    assert problem.row == 3
    assert "NUL" in problem.problem


@pytest.mark.parametrize(
    ("data", "filename"),
    [(b"", "empty.csv"), (b"\n  \n", "blank.tsv"), (b"word,definition\n", "header.csv"), (b"[]", "e.json")],
)
def test_files_without_rows_are_rejected(data: bytes, filename: str) -> None:
    assert only(rejected(data, filename)).problem == "no vocabulary rows"


def test_json_envelope_without_items() -> None:
    problems = rejected(b'{"language": "zh", "items": []}', "env.json")
    assert only(problems).problem == "no vocabulary rows"

    problems = rejected(b'{"language": "zh", "words": ["a"]}', "env.json")
    assert "unknown key 'words'" in problems[0].problem
    assert "'items'" in problems[1].problem


def test_missing_word_column_lists_the_headers() -> None:
    problem = only(rejected(b"pinyin,definition\nai,to love\n", "list.csv"))

    assert problem.row == 1
    assert "no word column" in problem.problem
    assert "'pinyin', 'definition'" in problem.problem


def test_duplicate_headers_name_both_columns() -> None:
    problem = only(rejected(b"word,reading,pinyin\na,b,c\n", "list.csv"))

    assert problem.row == 1
    assert "'reading' and 'pinyin'" in problem.problem
    assert "romanization" in problem.problem


def test_duplicate_extra_headers_are_rejected_too() -> None:
    problem = only(rejected(b"word,Note,note\na,b,c\n", "list.csv"))

    assert "'Note' and 'note'" in problem.problem


def test_ragged_row_names_the_row() -> None:
    problem = only(rejected(b"word,definition\na,b\nc,d,e\n", "list.csv"))

    assert problem.row == 3
    assert "3 cells" in problem.problem
    assert "2 columns" in problem.problem


def test_unbalanced_quote_names_the_row_where_it_opens() -> None:
    problem = only(rejected(b'word,definition\na,b\nc,"open\nd,e\n', "list.csv"))

    assert problem.row == 3
    assert "check for unbalanced quotes" in problem.problem


def test_stray_quote_after_a_quoted_field() -> None:
    problem = only(rejected(b'word,definition\n"a"b,c\n', "list.csv"))

    assert problem.row == 2
    assert "check for unbalanced quotes" in problem.problem


def test_empty_word_names_the_row() -> None:
    problem = only(rejected(b"word,definition\na,b\n ,orphan\n", "list.csv"))

    assert problem.row == 3
    assert "word is empty" in problem.problem


def test_rows_are_editor_lines_even_after_multiline_fields() -> None:
    data = b'word,definition\na,"line one\nline two"\n,missing word\n'

    assert only(rejected(data, "list.csv")).row == 4


def test_bad_type_value() -> None:
    problem = only(rejected(b"word,kind\na,idiom\n", "list.csv"))

    assert problem.row == 2
    assert "'word' or 'grammar'" in problem.problem


def test_over_long_field_names_row_and_column() -> None:
    data = b"word,definition\na,short\nb," + b"x" * 21 + b"\n"

    problem = only(rejected(data, "list.csv", VocabLimits(max_field_chars=20)))

    assert (problem.row, problem.column) == (3, "definition")
    assert "21 characters" in problem.problem
    assert "limit of 20" in problem.problem


def test_too_many_rows() -> None:
    data = b"word\n" + b"".join(f"w{i}\n".encode() for i in range(11))

    problem = only(rejected(data, "list.csv", VocabLimits(max_rows=10)))

    assert problem.row == 12
    assert "more than the limit of 10 vocabulary rows" in problem.problem


def test_exactly_max_rows_is_fine() -> None:
    data = b"word\n" + b"".join(f"w{i}\n".encode() for i in range(10))

    assert len(parse_vocab(data, "list.csv", VocabLimits(max_rows=10)).items) == 10


def test_too_big_file_is_rejected_before_parsing() -> None:
    problem = only(rejected(b"\xff" * 101, "list.csv", VocabLimits(max_bytes=100)))

    assert "101 bytes" in problem.problem
    assert "limit of 100 bytes" in problem.problem


def test_row_problems_are_collected_and_capped() -> None:
    data = b"word,definition\n" + b",no word\n" * 80

    problems = rejected(data, "list.csv")

    assert len(problems) == 50
    assert [problem.row for problem in problems[:3]] == [2, 3, 4]


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (gzip.compress(b"word\na\n", mtime=0), "gzip archive"),
        (b"PK\x03\x04\x14\x00\x06\x00rest of an xlsx", "zip archive"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"%PDF-1.7\n", "PDF document"),
    ],
)
def test_binary_files_say_what_they_look_like(data: bytes, looks_like: str) -> None:
    problem = only(rejected(data, "list.csv"))

    assert problem.problem.startswith(f"this looks like a {looks_like}")
    assert problem.problem.endswith("not a CSV file")


@pytest.mark.parametrize("filename", ["list.xlsx", "list.txt", "list", "list.csv.gz"])
def test_unknown_extension(filename: str) -> None:
    problem = only(rejected(b"word\na\n", filename))

    assert problem.problem.startswith("unsupported file")
    assert ".csv" in problem.problem


def test_invalid_json_names_line_and_column() -> None:
    problem = only(rejected(b'[\n  {"word": "a"},\n  {"word": "b",}\n]', "list.json"))

    assert problem.problem.startswith("invalid JSON: Expecting property name")
    assert problem.problem.endswith("(line 3, column 16)")


def test_deeply_nested_json_is_refused_before_parsing() -> None:
    data = b"[" * 100_000 + b"]" * 100_000

    problem = only(rejected(data, "deep.json"))

    assert "nested deeper than 20" in problem.problem


def test_nesting_error_names_the_line() -> None:
    data = b'[\n"a",\n' + b"[" * 25 + b"]" * 25 + b"\n]"

    assert only(rejected(data, "deep.json")).problem == "nested deeper than 20 levels (line 3)"


def test_json_integer_too_long_to_convert_is_rejected() -> None:
    problem = only(rejected(b'[{"word": 1' + b"0" * 5000 + b"}]", "huge.json"))

    assert problem.problem.startswith("invalid JSON")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    vocab = parse_vocab(json.dumps([{"word": "[" * 30 + '"{'}]).encode(), "list.json")

    assert vocab.words == ["[" * 30 + '"{']


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_rejected(constant: str) -> None:
    data = f'[\n{{"word": "NaN"}},\n{{"word": "b", "score": {constant}}}\n]'.encode()

    problem = only(rejected(data, "list.json"))

    assert f"{constant} is not valid JSON" in problem.problem
    assert "line 3" in problem.problem


def test_duplicate_json_keys_name_the_item() -> None:
    problem = only(rejected(b'[{"word": "a"}, {"word": "b", "word": "c"}]', "list.json"))

    assert problem.row == 2
    assert "item 2" in problem.problem
    assert "duplicate key 'word'" in problem.problem


def test_json_aliases_meaning_the_same_field_are_rejected() -> None:
    problem = only(rejected(b'["a", "b", {"word": "c", "reading": "x", "pinyin": "y"}]', "list.json"))

    assert problem.row == 3
    assert "item 3" in problem.problem
    assert "'reading' and 'pinyin'" in problem.problem


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"word": True}, "expected text, got bool"),
        ({"word": ["a"]}, "expected text, got list"),
        ({"word": {"a": "b"}}, "expected text, got dict"),
        ({"word": None}, "word is empty"),
        ({"definition": "x"}, "no word key"),
        (42, "expected an object or a string, got int"),
    ],
)
def test_bad_json_entries_name_the_item(entry: object, expected: str) -> None:
    problem = only(rejected(json.dumps(["ok", entry]).encode(), "list.json"))

    assert problem.row == 2
    assert "item 2" in problem.problem
    assert expected in problem.problem


def test_numbers_in_json_fields_become_text() -> None:
    vocab = parse_vocab(b'[{"word": 100, "definition": 1.5}]', "numbers.json")

    assert (vocab.items[0].word, vocab.items[0].definition) == ("100", "1.5")


def test_bad_envelope_language() -> None:
    problem = only(rejected(b'{"language": "Chinese", "items": ["a"]}', "env.json"))

    assert problem.column == "language"
    assert "'Chinese' is not a language code" in problem.problem


def test_broken_jsonl_lines_are_all_named() -> None:
    data = b'{"word": "a"}\n{"word": "b"\n\n{"word": NaN}\n{"word": "c"}\n'

    problems = rejected(data, "list.jsonl")

    assert [problem.row for problem in problems] == [2, 4]
    assert problems[0].problem.startswith("invalid JSON")
    assert problems[0].problem.endswith("(column 13)")
    assert "NaN is not valid JSON" in problems[1].problem


# --- upload keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("uploads/zh/HSK1/list.csv", UploadContext("zh", Level(system=LevelSystem.HSK, label="1"))),
        ("uploads/JA/n5/words.jsonl", UploadContext("ja", Level(system=LevelSystem.JLPT, label="N5"))),
        ("uploads/pt-BR/A1/lista.json", UploadContext("pt-br", Level(system=LevelSystem.CEFR, label="A1"))),
        (
            "uploads/es/Spanish 101/list.tsv",
            UploadContext("es", Level(system=LevelSystem.CUSTOM, label="Spanish 101")),
        ),
        ("uploads/ko/list.csv", UploadContext("ko", None)),
    ],
)
def test_context_from_key(key: str, expected: UploadContext) -> None:
    assert context_from_key(key) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("zh/HSK1/list.csv", "expected a key like uploads/"),
        ("uploads/list.csv", "expected a key like uploads/"),
        ("uploads/zh/HSK1/extra/list.csv", "expected a key like uploads/"),
        ("uploads/zh/HSK1/", "expected a key like uploads/"),
        ("uploads/zh/HSK1/list", "expected a key like uploads/"),
        ("uploads/chinese/HSK1/list.csv", "'chinese' is not a language code"),
        ("uploads/z1/HSK1/list.csv", "'z1' is not a language code"),
        ("uploads/zh/HSK1/list.xlsx", "unsupported file: extension '.xlsx'"),
    ],
)
def test_context_from_bad_key(key: str, expected: str) -> None:
    with pytest.raises(InvalidVocabFile) as caught:
        context_from_key(key)

    problem = only(caught.value.problems)
    assert problem.file == key
    assert expected in problem.problem

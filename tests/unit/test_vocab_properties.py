"""Property tests (Hypothesis): no file, however malformed, gets past intake as anything but a clean list or a
clean rejection, within bounded time and memory.

Random bytes, random CSV, JSON and JSON Lines structures and random Unicode (lone surrogates, C0/C1
controls, format characters, joiners, width variants, quotes and delimiters) go through `parse_vocab`.
It must return a list whose every field is free of controls and surrogates (words also of invisible
format characters) and that serialises, or raise `InvalidVocabFile` with printable problems.
"""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from havachat.errors import InvalidVocabFile
from havachat.languages.tags import UnknownLanguage, standard_tag
from havachat.vocab import UploadContext, VocabLimits, context_from_key, parse_vocab

LIMITS = VocabLimits(max_bytes=32_000, max_rows=100, max_field_chars=100)
# No per-example deadline: a loaded CI machine is not a failure of intake (speed is bench/'s business).
BOUNDED = settings(max_examples=200, deadline=None, database=None)
SUFFIXES = st.sampled_from([".csv", ".tsv", ".json", ".jsonl"])

HOSTILE = "\ud83d\udc00\x07\x1b\x85\x9b\x7f\u200b\u200c\u200d\u200e\u202e\u2066\u2069\ufeff\u00ad\uff21\uff71\u3000"
CHARS = st.one_of(
    st.characters(),  # every code point but surrogates
    st.sampled_from(HOSTILE + "\t\r\n\"',;|[]{}\\ 你한ねяéक्\u094d"),
    st.characters(categories=["Cc", "Cf"]),
)
TEXT = st.text(CHARS, max_size=12)
HEADERS = st.one_of(st.sampled_from(["word", "term", "pinyin", "definition", "type", "pos", "notes", ""]), TEXT)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(HEADERS, children, max_size=4),
    max_leaves=12,
)
# Entries mostly well formed, so that many files are accepted (and checked clean), not only rejected
ENTRY = st.one_of(
    TEXT,
    st.fixed_dictionaries(
        {"word": TEXT},
        optional={"definition": SCALARS, "pinyin": TEXT, "type": st.sampled_from(["word", "grammar"]), "": TEXT},
    ),
)
ENTRIES = st.one_of(st.lists(ENTRY, max_size=8), st.lists(st.one_of(ENTRY, JSON_VALUES), max_size=8))
ENVELOPES = st.fixed_dictionaries(
    {"items": st.one_of(ENTRIES, ENTRIES, JSON_VALUES)},
    optional={
        "language": st.one_of(st.sampled_from(["zh", "ja", "ko", "es", "english", "xx", "pt_BR"]), TEXT, JSON_VALUES),
        "level": st.one_of(st.sampled_from(["HSK1", "N5"]), TEXT, JSON_VALUES),
        "grammar": st.one_of(ENTRIES, JSON_VALUES),
        "extra": SCALARS,
    },
)
OTHER_COLUMNS = st.lists(st.sampled_from(["pinyin", "definition", "pos", "notes"]) | TEXT, max_size=3, unique=True)
WITH_WORD = OTHER_COLUMNS.flatmap(lambda others: st.permutations(["word", *others]))
TABLE_HEADERS = st.one_of(WITH_WORD, WITH_WORD, WITH_WORD, st.lists(HEADERS, min_size=1, max_size=4))


@st.composite
def tables(draw: st.DrawFn) -> list[list[str]]:
    """A header and rows of at most one cell more than it."""
    header = draw(TABLE_HEADERS)
    return [header, *draw(st.lists(st.lists(TEXT, max_size=len(header) + 1), min_size=1, max_size=8))]


LANGUAGES = st.sampled_from([None, "zh", "ja", "ko", "es", "fa", "hi"])


def _utf8(text: str) -> bytes:
    """The text's UTF-8 bytes; a lone surrogate becomes the invalid bytes a broken encoder writes."""
    return text.encode("utf-8", "surrogatepass")


def _clean_or_rejected(data: bytes, filename: str, language: str | None = None) -> None:
    """Intake accepts a clean, serialisable list or rejects with printable problems; nothing else escapes."""
    try:
        vocab = parse_vocab(data, filename, LIMITS, language)
    except InvalidVocabFile as invalid:
        assert invalid.problems
        str(invalid).encode("utf-8")
        return
    vocab.model_dump_json()  # what Plan writes to S3 and `havachat validate --json` prints
    assert vocab.items
    for warning in vocab.warnings:
        warning.problem.encode("utf-8")
    for item in vocab.items:
        fields = [item.word, item.romanization, item.definition, item.pos, *item.extra, *item.extra.values()]
        for text in filter(None, fields):
            assert text == text.strip() and unicodedata.is_normalized("NFC", text)
            assert not any(unicodedata.category(char) in ("Cc", "Cs") for char in text), text
        invisible = [c for c in item.word if unicodedata.category(c) == "Cf" and c not in "\u200c\u200d"]
        assert not invisible, item.word


@BOUNDED
@given(data=st.binary(max_size=600), suffix=SUFFIXES)
def test_random_bytes_are_a_clean_list_or_rejection_in_bounded_memory(data: bytes, suffix: str) -> None:
    tracemalloc.start()
    try:
        _clean_or_rejected(data, f"random{suffix}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000


@BOUNDED
@given(
    table=tables(),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, None]),
    suffix=st.sampled_from([".csv", ".tsv"]),
    language=LANGUAGES,
)
def test_random_tables_are_a_clean_list_or_rejection(
    table: list[list[str]], delimiter: str, quoting: int | None, suffix: str, language: str | None
) -> None:
    # Written by the csv module, or cells joined as they are (None): unbalanced quotes, stray delimiters
    buffer = io.StringIO()
    for row in table:
        if quoting is None:
            buffer.write(delimiter.join(row) + "\n")
        else:
            csv.writer(buffer, delimiter=delimiter, quoting=quoting).writerow(row)
    _clean_or_rejected(_utf8(buffer.getvalue()), f"table{suffix}", language)


@BOUNDED
@given(document=st.one_of(ENTRIES, ENVELOPES, JSON_VALUES), ascii_only=st.booleans(), language=LANGUAGES)
def test_random_json_is_a_clean_list_or_rejection(document: Any, ascii_only: bool, language: str | None) -> None:
    # ensure_ascii writes a lone surrogate as the escape "\ud83d", which json.loads reads back as one
    _clean_or_rejected(_utf8(json.dumps(document, ensure_ascii=ascii_only)), "list.json", language)


@BOUNDED
@given(lines=st.lists(st.one_of(JSON_VALUES, TEXT.map(json.dumps), TEXT), max_size=8), ascii_only=st.booleans())
def test_random_json_lines_are_a_clean_list_or_rejection(lines: list[Any], ascii_only: bool) -> None:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=ascii_only) for line in lines)
    _clean_or_rejected(_utf8(text), "list.jsonl")


@BOUNDED
@given(words=st.lists(TEXT, min_size=1, max_size=8), language=LANGUAGES)
def test_random_unicode_words_are_cleaned_or_rejected(words: list[str], language: str | None) -> None:
    _clean_or_rejected(json.dumps({"items": words}).encode(), "list.json", language)


@BOUNDED
@given(text=TEXT)
def test_any_language_code_is_standardised_or_refused(text: str) -> None:
    try:
        code = standard_tag(text)
    except UnknownLanguage as unknown:
        str(unknown).encode("utf-8")
    else:
        assert code == code.lower() and standard_tag(code) == code


@BOUNDED
@given(language=TEXT, level=TEXT, name=TEXT, suffix=SUFFIXES)
def test_any_upload_key_is_read_or_rejected(language: str, level: str, name: str, suffix: str) -> None:
    try:
        context = context_from_key(f"uploads/{language}/{level}/{name}{suffix}")
    except InvalidVocabFile as invalid:
        str(invalid).encode("utf-8")
    else:
        assert isinstance(context, UploadContext) and context.language == standard_tag(context.language)

"""Vocab intake: turn an uploaded CSV, TSV, JSON or JSONL file into a validated `VocabList`.

A file is accepted whole or rejected whole with `InvalidVocabFile`, whose problems name the file,
the row (the editor's line number, or the item number for JSON) and the column where they apply.
An accepted list carries `warnings` on the same rows: what intake changed that a reader could not
see or would not expect (controls and invisible characters removed, width variants folded, rows
merged) and words whose script does not fit the declared language.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from havachat.errors import InvalidVocabFile, VocabProblem, printable
from havachat.languages.tags import JOINING_SCRIPTS, UnknownLanguage, script_name, script_of, standard_tag, written_in
from havachat.models import Level, VocabItem, VocabKind, VocabList, VocabWarning
from havachat.settings import Settings

_FORMATS = {".csv": "CSV", ".tsv": "TSV", ".json": "JSON", ".jsonl": "JSON Lines"}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_FORMATS)

_MAX_PROBLEMS = 50
_MAX_WARNINGS = 1000
_MAX_JSON_DEPTH = 20
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_HEADER_CHARS = 65_536  # the start of a table that its delimiter is chosen from
_UPLOAD_KEY = re.compile(r"^uploads/(?P<language>[^/]+)/(?:(?P<level>[^/]*[^/\s][^/]*)/)?(?P<name>[^/]+\.[^/.]+)$")
# Strings (skipped whole), brackets and the non-standard constants, for scanning JSON without parsing it.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|NaN|-?Infinity', re.S)
_MAGIC = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook is one)"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Full-width digits and Latin letters, half-width katakana and Hangul (Halfwidth and Fullwidth Forms block).
_WIDTH_VARIANTS = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff65-\uffdc]+")
_UTF8_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")
# ANSI escape sequences, removed whole: CSI (ESC[31m), OSC (up to BEL or ESC\\) and two-character escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_JOINERS = "\u200c\u200d"  # ZWNJ and ZWJ
_CHANGES_SHOWN = 5  # characters, runs or values named in one warning
_QUOTED_CHARS = 60  # of a value quoted in a warning

_FIELD_ALIASES = {
    "word": ("word", "term", "vocab", "vocabulary", "hanzi", "kanji", "expression", "単語", "词语"),
    "romanization": (
        "romanization",
        "romanisation",
        "reading",
        "pinyin",
        "kana",
        "romaji",
        "furigana",
        "transliteration",
    ),
    "definition": ("definition", "meaning", "english", "gloss", "translation"),
    "pos": ("pos", "part_of_speech", "part of speech"),
    "kind": ("type", "kind"),
}
_ALIASES = {alias: field for field, aliases in _FIELD_ALIASES.items() for alias in aliases}
_ENVELOPE_KEYS = ("language", "level", "items", "grammar")
_OPTIONAL_FIELDS = ("romanization", "definition", "pos")


@dataclass(frozen=True)
class VocabLimits:
    """Upper bounds checked while reading a file; the defaults are the Settings defaults."""

    max_bytes: int = Settings.model_fields["max_file_bytes"].default
    max_rows: int = Settings.model_fields["max_rows"].default
    max_field_chars: int = Settings.model_fields["max_field_chars"].default

    @classmethod
    def from_settings(cls, settings: Settings) -> VocabLimits:
        return cls(settings.max_file_bytes, settings.max_rows, settings.max_field_chars)


DEFAULT_LIMITS = VocabLimits()


@dataclass(frozen=True)
class UploadContext:
    """What an upload's S3 key says about its contents."""

    language: str
    level: Level | None


def context_from_key(key: str) -> UploadContext:
    """Language and level from `uploads/<language>/<level>/<name>.<ext>` (the level segment is optional)."""
    match = _UPLOAD_KEY.match(key)
    if not match:
        _fail(key, "expected a key like uploads/<language>/<level>/<name>.csv, e.g. uploads/zh/HSK1/list.csv")
    _check_suffix(key, match["name"])
    try:
        language = standard_tag(match["language"])
    except UnknownLanguage as unknown:
        _fail(key, str(unknown))
    return UploadContext(language=language, level=Level.parse(match["level"]) if match["level"] else None)


def read_vocab_file(path: str | Path, limits: VocabLimits = DEFAULT_LIMITS, language: str | None = None) -> VocabList:
    """Read and parse a local file, never holding more than `limits.max_bytes + 1` bytes."""
    filename = str(path)
    with open(path, "rb") as handle:
        data = handle.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            _too_big(filename, Path(path).stat().st_size, limits)
    return parse_vocab(data, filename, limits, language)


def parse_vocab(
    data: bytes, filename: str, limits: VocabLimits = DEFAULT_LIMITS, language: str | None = None
) -> VocabList:
    """Validate and normalise a vocab file's bytes; the format is chosen by the file's extension.

    Each word's script is checked against `language` (a `standard_tag`), else the JSON envelope's.
    """
    suffix = _check_suffix(filename, filename)
    if len(data) > limits.max_bytes:
        _too_big(filename, len(data), limits)
    for magic, looks_like in _MAGIC:
        if data.startswith(magic):
            _fail(filename, f"this looks like {looks_like}, not a {_FORMATS[suffix]} file")
    text = _decode(data, filename, line_is_row=suffix != ".json")
    intake = _Intake(filename, limits, language)
    envelope_language: str | None = None
    level: Level | None = None
    if suffix == ".json":
        envelope_language, level = _read_json(text, intake)
    elif suffix == ".jsonl":
        _read_jsonl(text, intake)
    else:
        _read_table(text, intake, "\t" if suffix == ".tsv" else ",")
    items = intake.finish()
    return VocabList(source=filename, language=envelope_language, level=level, items=items, warnings=intake.warnings)


class _Column(NamedTuple):
    header: str  # as the user wrote it (cleaned), used in messages and as the `extra` key
    field: str | None  # canonical field, or None for an extra column


class _Intake:
    """Collects row problems, warnings and merged items for one file."""

    def __init__(self, filename: str, limits: VocabLimits, language: str | None) -> None:
        self.filename = filename
        self.limits = limits
        self.problems: list[VocabProblem] = []
        self.warnings: list[VocabWarning] = []
        self.unlisted_warnings = 0
        self.items: dict[str, VocabItem] = {}
        self.first_rows: dict[str, str] = {}  # where each word first appeared: "row 3", "item 2"
        self.rows = 0
        self.language: str | None = None
        self.scripts: tuple[str, ...] = ()
        self.declare(language)

    def declare(self, language: str | None) -> None:
        """Check words against `language` unless one was declared already (the caller's wins over the envelope's)."""
        if self.language is None and language:
            self.language, self.scripts = language, written_in(language)

    def warn(self, text: str, row: int | None) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(VocabWarning(row=row, problem=printable(text)))
        else:
            self.unlisted_warnings += 1

    def text(self, raw: str, row: int | None, column: str, where: str = "", *, invisible: bool = False) -> str | None:
        """`raw` cleaned (`_clean`), each change a warning on the row; None, and a problem, if it holds a lone
        surrogate (a broken JSON escape such as "\\ud83d", which UTF-8 and the LLM API refuse)."""
        if surrogate := _SURROGATE.search(raw):
            shown = ascii(surrogate.group())[1:-1]
            self.problem(f"a lone UTF-16 surrogate {shown} (half of a \\u escape pair) is not text{where}", row, column)
            return None
        cleaned, changes = _clean(raw, invisible=invisible)
        for change in changes:
            self.warn(f"'{column}': {change}{where}", row)
        return cleaned

    def check_script(self, word: str, row: int, where: str) -> None:
        """Warn when the word has letters of a script the declared language is not written in (Latin always fits)."""
        if not self.scripts:
            return
        foreign = {script for char in word if char.isalpha() and (script := script_of(char))}
        foreign -= {*self.scripts, "LATIN"}
        if foreign:
            found = " and ".join(sorted(script_name(script) for script in foreign))
            *others, last = [script_name(script) for script in self.scripts]
            expected = f"{', '.join(others)} and {last}" if others else last
            self.warn(
                f"{_quote(word)} has {found} letters, unusual for {self.language}, written in {expected}{where}", row
            )

    def problem(self, text: str, row: int | None = None, column: str | None = None) -> None:
        self.problems.append(VocabProblem(self.filename, text, row, column))
        if len(self.problems) >= _MAX_PROBLEMS:
            raise InvalidVocabFile(self.problems)

    def fail(self, text: str, row: int | None = None, column: str | None = None) -> NoReturn:
        raise InvalidVocabFile([*self.problems, VocabProblem(self.filename, text, row, column)])

    def add(
        self,
        cells: Iterable[tuple[_Column, object]],
        row: int,
        item: str | None = None,
        kind: VocabKind = VocabKind.WORD,
    ) -> None:
        """Validate one entry and merge it; `item` ("item 3") labels JSON entries in messages."""
        self.rows += 1
        if self.rows > self.limits.max_rows:
            self.fail(f"more than the limit of {self.limits.max_rows} vocabulary rows", row)
        where = f" ({item})" if item else ""
        values: dict[str, str] = {}
        extra: dict[str, str] = {}
        rejected: set[str | None] = set()  # fields (None for extras) whose value was rejected
        for column, raw in cells:
            if raw is None:
                continue
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                self.problem(f"expected text, got {type(raw).__name__}{where}", row, column.header)
                rejected.add(column.field)
                continue
            text = self.text(str(raw), row, column.header, where, invisible=column.field == "word")
            if text is None:
                rejected.add(column.field)
            elif len(text) > self.limits.max_field_chars:
                self.problem(
                    f"value is {len(text)} characters long, over the limit of {self.limits.max_field_chars}{where}",
                    row,
                    column.header,
                )
                rejected.add(column.field)
            elif text and column.field:
                values[column.field] = text
            elif text:
                extra[column.header] = text
        if kind_text := values.pop("kind", None):
            try:
                kind = VocabKind(kind_text.lower())
            except ValueError:
                self.problem(f"type must be 'word' or 'grammar', not '{kind_text}'{where}", row)
                rejected.add("kind")
        word = values.pop("word", None)
        if word is None and "word" not in rejected:
            self.problem(f"the word is empty{where}", row)
        elif word is not None and not rejected:
            new = VocabItem(
                word=word,
                romanization=values.get("romanization"),
                definition=values.get("definition"),
                pos=values.get("pos"),
                kind=kind,
                extra=extra,
            )
            first = self.items.get(word)
            if first is None:
                self.items[word] = new
                self.first_rows[word] = item or f"row {row}"
                self.check_script(word, row, where)
            else:
                self.items[word], dropped = _merge(first, new)
                lost = f"; its {_listed(dropped)} dropped (the first value wins)" if dropped else ""
                self.warn(f"{_quote(word)} repeats {self.first_rows[word]} and was merged into it{lost}{where}", row)

    def finish(self) -> list[VocabItem]:
        if self.problems:
            raise InvalidVocabFile(self.problems)
        if not self.items:
            self.fail("no vocabulary rows")
        if self.unlisted_warnings:
            more = f"{self.unlisted_warnings:,} more warnings not listed (the first {_MAX_WARNINGS:,} are)"
            self.warnings.append(VocabWarning(row=None, problem=more))
        return list(self.items.values())


def _merge(first: VocabItem, later: VocabItem) -> tuple[VocabItem, list[str]]:
    """A repeated word fills the gaps of its first occurrence; the first value of each field wins.

    Also returns the later row's values that differed and were dropped, e.g. `definition 'hi'`.
    """
    update: dict[str, Any] = {name: getattr(first, name) or getattr(later, name) for name in _OPTIONAL_FIELDS}
    update["extra"] = {**later.extra, **first.extra}
    values = [(name, getattr(first, name), getattr(later, name)) for name in _OPTIONAL_FIELDS]
    values += [(f"'{key}'", first.extra.get(key), value) for key, value in later.extra.items()]
    values.append(("type", first.kind.value, later.kind.value))
    dropped = [f"{name} {_quote(value)}" for name, kept, value in values if kept and value and kept != value]
    return first.model_copy(update=update), dropped


def _read_table(text: str, intake: _Intake, default_delimiter: str) -> None:
    delimiter, looks_like = _delimiter(text, default_delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=delimiter, strict=True)
    columns: list[_Column] | None = None
    while True:
        row = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if "field larger than field limit" in str(error):
                intake.fail(
                    f"a field is over {csv.field_size_limit():,} characters long (the limit per value is "
                    f"{intake.limits.max_field_chars:,}); check for an unclosed quote",
                    row,
                )
            intake.fail(f"cannot read the row starting on this line ({error}); check for unbalanced quotes", row)
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            columns = _header(cells, intake, row, looks_like)
        elif len(cells) > len(columns):
            intake.problem(f"{len(cells)} cells but the header has {len(columns)} columns", row)
        else:
            intake.add(zip(columns, cells, strict=False), row)


def _delimiter(text: str, default: str) -> tuple[str, str]:
    """The delimiter to read a table with, and what the header looks like when no delimiter finds a word column.

    The first of `default`, comma, semicolon, tab and pipe under which the header row names a word
    column; else `default`, with a note naming the delimiter that splits the header into the most cells.
    """
    candidates = [default, *(d for d in _DELIMITERS if d != default)]
    headers = {d: [_clean(cell, invisible=True)[0] for cell in _first_row(text[:_HEADER_CHARS], d)] for d in candidates}
    for delimiter in candidates:
        if any(_ALIASES.get(header.casefold()) == "word" for header in headers[delimiter]):
            return delimiter, ""
    widest = max(candidates, key=lambda d: len(headers[d]))
    if widest == default or len(headers[widest]) < 2:
        return default, ""
    split = ", ".join(f"'{header}'" for header in headers[widest])
    return default, f"; it looks {_DELIMITERS[widest]}-delimited, with columns {split}"


def _first_row(text: str, delimiter: str) -> list[str]:
    """The first row with a non-blank cell, read with `delimiter`; [] if there is none or it cannot be read."""
    try:
        for cells in csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=delimiter, strict=True):
            if any(cell.strip() for cell in cells):
                return cells
    except csv.Error:
        pass
    return []


def _header(cells: list[str], intake: _Intake, row: int, looks_like: str) -> list[_Column]:
    headers = [
        intake.text(cell, row, f"column {index}", invisible=True) or f"column {index}"
        for index, cell in enumerate(cells, start=1)
    ]
    columns, duplicates = _resolve(headers)
    for duplicate in duplicates:
        intake.problem(duplicate, row)
    if not any(column.field == "word" for column in columns):
        found = ", ".join(f"'{header}'" for header in headers)
        intake.fail(f"no word column (found {found}){looks_like}; name one 'word', 'term' or 'hanzi'", row)
    if intake.problems:
        raise InvalidVocabFile(intake.problems)
    return columns


def _resolve(headers: Iterable[str]) -> tuple[list[_Column], list[str]]:
    """Map headers to fields by alias; also return a message for each pair of columns meaning the same."""
    columns: list[_Column] = []
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    for header in headers:
        key = header.casefold()
        field = _ALIASES.get(key)
        column = _Column(header, field)
        if (earlier := seen.get(field or key)) is not None:
            meaning = f" (both mean {field})" if field else ""
            duplicates.append(f"duplicate columns '{earlier}' and '{header}'{meaning}")
        seen.setdefault(field or key, header)
        columns.append(column)
    return columns, duplicates


def _read_json(text: str, intake: _Intake) -> tuple[str | None, Level | None]:
    try:
        document = _load_json(text)
    except _JsonRejected as error:
        intake.fail(error.describe(with_line=True))
    if isinstance(document, list):
        _json_entries(document, intake, "item")
        return None, None
    if not isinstance(document, dict):
        intake.fail("expected a list of entries or an object with an 'items' list")
    for key in sorted(document.keys() - set(_ENVELOPE_KEYS)):
        intake.problem(f"unknown key '{key}' (expected {', '.join(_ENVELOPE_KEYS)})")
    if isinstance(document, _DuplicateKeys):
        intake.problem(f"duplicate key {document.duplicates}")
    items, grammar = document.get("items"), document.get("grammar", [])
    if not isinstance(items, list):
        intake.fail("expected an 'items' key holding a list of entries")
    if not isinstance(grammar, list):
        intake.fail("the 'grammar' key must hold a list of entries")
    language_text = _envelope_text(document.get("language"), "language", intake)
    level_text = _envelope_text(document.get("level"), "level", intake)
    language = None
    if language_text:
        try:
            language = standard_tag(language_text)
        except UnknownLanguage as unknown:
            intake.problem(str(unknown), column="language")
    intake.declare(language)
    _json_entries(items, intake, "item")
    _json_entries(grammar, intake, "grammar item", VocabKind.GRAMMAR)
    return language, Level.parse(level_text) if level_text else None


def _envelope_text(value: object, key: str, intake: _Intake) -> str | None:
    if value is None or isinstance(value, str):
        return (intake.text(value, None, key, invisible=True) or None) if value else None
    intake.problem(f"'{key}' must be a string", column=key)
    return None


def _json_entries(entries: list[Any], intake: _Intake, label: str, kind: VocabKind = VocabKind.WORD) -> None:
    for index, entry in enumerate(entries, start=1):
        _json_entry(entry, intake, index, f"{label} {index}", kind)


def _json_entry(entry: object, intake: _Intake, row: int, item: str | None, kind: VocabKind) -> None:
    where = f" ({item})" if item else ""
    if isinstance(entry, str):
        intake.add([(_Column("word", "word"), entry)], row, item, kind)
        return
    if not isinstance(entry, dict):
        intake.problem(f"expected an object or a string, got {type(entry).__name__}{where}", row)
        return
    if isinstance(entry, _DuplicateKeys):
        intake.problem(f"duplicate key {entry.duplicates}{where}", row)
        return
    cleaned = [intake.text(key, row, key, where, invisible=True) for key in entry]
    headers = [header for header in cleaned if header is not None]
    if len(headers) < len(cleaned):  # a key with a lone surrogate, already a problem
        return
    columns, duplicates = _resolve(headers)
    for duplicate in duplicates:
        intake.problem(f"{duplicate}{where}", row)
    if not any(column.field == "word" for column in columns):
        found = ", ".join(f"'{header}'" for header in headers) or "none"
        intake.problem(f"no word key (found {found}){where}", row)
    elif not duplicates:
        intake.add(zip(columns, entry.values(), strict=True), row, item, kind)


def _read_jsonl(text: str, intake: _Intake) -> None:
    for row, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if line.startswith("\ufeff"):  # files joined with their byte order marks
            line = line.lstrip("\ufeff")
            intake.warn("removed a byte order mark (U+FEFF) at the start of the line", row)
        try:
            entry = _load_json(line)
        except _JsonRejected as error:
            intake.problem(error.describe(with_line=False), row)
        else:
            _json_entry(entry, intake, row, None, VocabKind.WORD)


class _DuplicateKeys(dict[str, Any]):
    """A JSON object that repeated a key; rejected where it is used so the message can name the item."""

    duplicates: str


class _BadConstant(ValueError):
    """NaN, Infinity or -Infinity: Python's json accepts them, JSON does not."""


class _JsonRejected(Exception):
    def __init__(self, message: str, line: int | None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def describe(self, *, with_line: bool) -> str:
        """The message with its location; JSON Lines leave the line out because the row names it."""
        where = [f"line {self.line}"] if with_line and self.line else []
        where += [f"column {self.column}"] if self.column else []
        return f"{self.message} ({', '.join(where)})" if where else self.message


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _DuplicateKeys(obj)
    keys = [key for key, _ in pairs]
    marked.duplicates = ", ".join(sorted({f"'{key}'" for key in keys if keys.count(key) > 1}))
    return marked


def _reject_constant(name: str) -> NoReturn:
    raise _BadConstant(name)


def _load_json(text: str) -> Any:
    """`json.loads` that refuses deep nesting (checked before parsing), NaN/Infinity and bad syntax."""
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > _MAX_JSON_DEPTH:
                raise _JsonRejected(f"nested deeper than {_MAX_JSON_DEPTH} levels", _line_at(text, token.start()))
        elif bracket in ("]", "}"):
            depth -= 1
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as error:
        raise _JsonRejected(f"invalid JSON: {error.msg}", error.lineno, error.colno) from None
    except _BadConstant as error:
        constant = str(error)
        at = next((m.start() for m in _JSON_TOKENS.finditer(text) if m.group() == constant), 0)
        raise _JsonRejected(f"{constant} is not valid JSON; use null or a string", _line_at(text, at)) from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        raise _JsonRejected(f"invalid JSON: {error}", None) from None


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _decode(data: bytes, filename: str, *, line_is_row: bool) -> str:
    """UTF-8 (BOM optional) to text; names the byte offset and line of the first bad byte."""
    if data.startswith(_UTF16_BOMS):
        _fail(filename, "the file is UTF-16 encoded; re-save it as UTF-8")
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        line = data.count(b"\n", 0, offset) + 1
        _fail(
            filename,
            f"not valid UTF-8: byte 0x{data[offset]:02x} at byte offset {offset} (line {line}); re-save it as UTF-8",
            line if line_is_row else None,
        )
    if (nul := text.find("\x00")) >= 0:
        line = _line_at(text, nul)
        _fail(
            filename,
            f"contains a NUL byte (line {line}); is it binary or UTF-16? Re-save it as UTF-8",
            line if line_is_row else None,
        )
    return text


def _clean(text: str, *, invisible: bool = False) -> tuple[str, list[str]]:
    """NFC, trimmed, every whitespace run (newlines and tabs included) collapsed to one space; with the
    changes a reader could not see or would not expect, for warnings.

    Those changes, made first: ANSI escape sequences and the other C0/C1 control characters are
    removed (tab, CR and LF are whitespace); with `invisible`, so are format characters (`_visible`);
    width variants are folded (NFKC on them only): full-width Latin letters and digits become ASCII
    (`ＡＢＣ１` -> `ABC1`), half-width katakana and Hangul the usual forms (`ｶﾞｯｺｳ` -> `ガッコウ`).
    Full-width punctuation is kept: Chinese and Japanese text uses it.
    """
    changes: list[str] = []
    if not text.isprintable():  # only then can it hold a control or format character
        text, removed = _without_controls(text)
        if removed:
            changes.append(f"removed control characters {_listed(removed)}")
        if invisible:
            text, removed = _visible(text)
            if removed:
                changes.append(f"removed invisible characters {_listed(removed)}")
    folded = {run: unicodedata.normalize("NFKC", run) for run in _WIDTH_VARIANTS.findall(text)}
    if folded:
        text = _WIDTH_VARIANTS.sub(lambda match: folded[match.group()], text)
        changes.append(f"folded width variants {_listed(f'{run} -> {usual}' for run, usual in folded.items())}")
    return " ".join(unicodedata.normalize("NFC", text).split()), changes


def _without_controls(text: str) -> tuple[str, list[str]]:
    """The text without ANSI escape sequences and C0/C1 control characters but tab, LF and CR; and what was
    removed, escaped (`\\x1b[31m`, `\\x07`)."""
    removed = _ANSI.findall(text)
    kept = []
    for char in _ANSI.sub("", text):
        if unicodedata.category(char) == "Cc" and char not in "\t\n\r":
            removed.append(char)
        else:
            kept.append(char)
    return "".join(kept), [ascii(sequence)[1:-1] for sequence in dict.fromkeys(removed)]


def _visible(text: str) -> tuple[str, list[str]]:
    """The text without format characters (Unicode Cf: zero-width spaces, bidi marks, embeddings, overrides and
    isolates, byte order marks, soft hyphens); and the names of those removed.

    ZWNJ and ZWJ stay between two letters of a script they shape (Persian `می‌خواهم`, Devanagari `क्‍ष`)
    and between emoji (a ZWJ sequence).
    """
    kept, removed = [], []
    for index, char in enumerate(text):
        if unicodedata.category(char) != "Cf" or (
            char in _JOINERS and _joins(text[index - 1 : index], text[index + 1 : index + 2])
        ):
            kept.append(char)
        else:
            removed.append(f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip())
    return "".join(kept), list(dict.fromkeys(removed))


def _joins(before: str, after: str) -> bool:
    """Whether a ZWNJ or ZWJ between these characters shapes them."""
    if not before or not after:
        return False
    if script_of(before) in JOINING_SCRIPTS and script_of(after) in JOINING_SCRIPTS:
        return True
    emoji_before = unicodedata.category(before) in ("So", "Sk") or before == "\ufe0f"  # Sk: skin tones
    return emoji_before and unicodedata.category(after) == "So"


def _quote(value: str) -> str:
    """A value as a warning quotes it, cut to `_QUOTED_CHARS`."""
    return f"'{value[:_QUOTED_CHARS]}...'" if len(value) > _QUOTED_CHARS else f"'{value}'"


def _listed(names: Iterable[str]) -> str:
    shown = list(names)
    more = ", ..." if len(shown) > _CHANGES_SHOWN else ""
    return ", ".join(shown[:_CHANGES_SHOWN]) + more


def _check_suffix(filename: str, name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in _FORMATS:
        shown = f"extension '{suffix}'" if suffix else "no extension"
        _fail(filename, f"unsupported file: {shown}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    return suffix


def _too_big(filename: str, size: int, limits: VocabLimits) -> NoReturn:
    _fail(filename, f"the file is {size:,} bytes, over the limit of {limits.max_bytes:,} bytes")


def _fail(filename: str, problem: str, row: int | None = None) -> NoReturn:
    raise InvalidVocabFile([VocabProblem(filename, problem, row)])

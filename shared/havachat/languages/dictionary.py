"""Definitions from open dictionaries for the words a vocab list gives none: CC-CEDICT (zh), JMdict (ja).

Plan calls `fill_definitions` before it plans, so prompts and offline items use the filled glosses;
every filled row is marked (`extra["definition_source"]`, the dictionary's name) and the vocab gets
one warning counting them. A word the dictionary lacks keeps no definition.

The dictionaries are the compact files `scripts/build_dictionaries.py` derives from pinned PyPI
packages (`data/`, shipped in the shared layer with their licences in `data/NOTICE.md`). A file is
read on the first lookup in its language and kept for the container (`dictionary_for`), and only
Plan imports this module: GenerateBatch and Finalize never load a dictionary.
"""

from __future__ import annotations

import gzip
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from havachat.languages import language_for
from havachat.models import DEFINITION_MARK, VocabKind, VocabList, VocabWarning
from havachat.readings import fill_romanization

DATA = Path(__file__).with_name("data")


@dataclass(frozen=True)
class DictionaryFile:
    name: str  # as marks and warnings name it
    file: str  # under DATA
    kana: bool = False  # Japanese: readings are kana, and a word may be looked up by its reading


SOURCES = {
    "zh": DictionaryFile("CC-CEDICT", "cedict.tsv.gz"),
    "ja": DictionaryFile("JMdict", "jmdict.tsv.gz", kana=True),
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One dictionary entry: its written forms (simplified first; kanji), readings (pinyin; kana) and gloss."""

    forms: tuple[str, ...]
    readings: tuple[str, ...]
    flags: str  # p proper noun, d only dated senses, k usually written in kana
    weight: int  # how central the entry is: its number of meanings (zh), 1 when common (ja)
    gloss: str

    @classmethod
    def parse(cls, line: str) -> Entry:
        forms, readings, flags, weight, gloss = line.split("\t")
        return cls(tuple(forms.split(";")) if forms else (), tuple(readings.split(";")), flags, int(weight), gloss)


def _hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


def _pinyin_key(text: str) -> str:
    """Pinyin compared as written in lists: no spaces or apostrophes, lower case, NFC (tone marks kept)."""
    return unicodedata.normalize("NFC", "".join(c for c in text.lower() if c not in " '’-·"))


def _toneless(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


class Dictionary:
    """A dictionary file's lines indexed by written form (and, for Japanese, kana reading); an entry is
    parsed when it is looked up, so loading costs one split per line."""

    def __init__(self, source: DictionaryFile, text: str) -> None:
        """`text`: forms, readings, flags, weight, gloss per line, tab-separated; `#` lines are the header."""
        self.name = source.name
        self._kana = source.kana
        self._lines: dict[str, list[str]] = defaultdict(list)
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            forms, readings, _ = line.split("\t", 2)
            keys = forms.split(";") if forms else []
            if source.kana:
                keys += readings.split(";")
            for key in keys:
                self._lines[key].append(line)

    @classmethod
    def load(cls, source: DictionaryFile) -> Dictionary:
        return cls(source, gzip.decompress((DATA / source.file).read_bytes()).decode("utf-8"))

    def lookup(self, word: str, reading: str | None = None) -> Entry | None:
        """The entry a learner's gloss of `word` comes from: the one whose reading matches `reading` (the
        list's pinyin or kana), else the most central; proper nouns and dated-only entries last."""
        lines = self._lines.get(word)
        if not lines:
            return None
        entries = [Entry.parse(line) for line in lines]
        ranks = [(self._rank(entry, word, reading), order) for order, entry in enumerate(entries)]
        return entries[min(ranks)[1]]

    def _rank(self, entry: Entry, word: str, reading: str | None) -> tuple[int, ...]:
        if self._kana:
            given = _hiragana(reading or word)
            reading_rank = 0 if given in (_hiragana(r) for r in entry.readings) else 1
            # a kana word is best matched by an entry without kanji or one usually written in kana
            form_rank = 0 if word in entry.forms or not entry.forms or "k" in entry.flags else 1
        else:
            form_rank = 0
            if not reading:
                reading_rank = 0
            else:
                given = _pinyin_key(reading)
                written = [_pinyin_key(r) for r in entry.readings]
                reading_rank = (
                    0 if given in written else 1 if _toneless(given) in (_toneless(w) for w in written) else 2
                )
        return (reading_rank, form_rank, "p" in entry.flags, "d" in entry.flags, -entry.weight)


def _source(language: str) -> DictionaryFile | None:
    found = language_for(language)
    return SOURCES.get(found.code) if found else None


def dictionary_for(language: str) -> Dictionary | None:
    """The language's dictionary (zh-TW's is zh's), read on the first call and kept; None: it has none."""
    source = _source(language)
    return _loaded(source) if source else None


@cache
def _loaded(source: DictionaryFile) -> Dictionary:
    return Dictionary.load(source)


def fill_definitions(vocab: VocabList, language: str) -> VocabList:
    """The vocab with words lacking a definition given the dictionary's gloss, marked in `extra`, and a
    warning that counts them. Reads the dictionary only when a word lacks a definition."""
    missing = [i for i, item in enumerate(vocab.items) if item.kind is VocabKind.WORD and not item.definition]
    if not missing or _source(language) is None:
        return vocab
    dictionary = dictionary_for(language)
    assert dictionary is not None
    items = list(vocab.items)
    for index in missing:
        item = items[index]
        entry = dictionary.lookup(item.word, item.romanization)
        if entry is not None:
            extra = {**item.extra, DEFINITION_MARK: dictionary.name}
            items[index] = item.model_copy(update={"definition": entry.gloss, "extra": extra})
    filled = sum(1 for index in missing if items[index].definition)
    unknown = len(missing) - filled
    note = f"{filled} of {len(missing)} words without a definition were given one from {dictionary.name}"
    if unknown:
        note += f"; {unknown} not in it have none"
    warning = VocabWarning(row=None, problem=note)
    return vocab.model_copy(update={"items": items, "warnings": [*vocab.warnings, warning]})


def fill_from_dictionaries(vocab: VocabList, language: str) -> VocabList:
    """What Plan (and the Python API) add to a list before planning it: missing romanization (pinyin,
    kana, RR) and missing definitions (CC-CEDICT, JMdict), each filled row marked in `extra`."""
    return fill_definitions(fill_romanization(vocab, language), language)

"""Dictionary checks of romanization: pinyin (pypinyin), Japanese readings (pykakasi's dictionary), Korean RR.

A checker compares what was written (a vocab row's romanization, an example's romanization) with
what the dictionary says the text reads, and answers:

- `ok`: the reading is the dictionary's likeliest one, allowing for how textbooks write it;
- `ambiguous`: another reading the dictionary knows for the same characters (a heteronym such as
  行 xíng/háng, 了 le/liǎo, 得 de/dé/děi; a kanji with several readings): flagged, not called wrong;
- `mismatch`: no dictionary reading fits (wrong tone, wrong syllable, wrong kana).

What counts as the same reading (decided here, documented in the README's "Content quality"):

- Chinese: tone marks and tone numbers (5 or 0 = neutral), case, spacing, apostrophes, ü/v and
  erhua (哪儿 as nǎr or nǎ'er) are normalised away. Tone sandhi may be written either way: third
  tone before third tone as 2 (ní hǎo), 不 as bú and 一 as yí/yì. A neutral tone is accepted on
  any syllable but the first of a run of characters (dictionaries write 朋友 péngyou where
  pypinyin says yǒu), and a syllable pypinyin makes neutral may carry its citation tone. Text
  with Latin letters or digits is not checked.
- Japanese: kana or Hepburn romaji; long vowels (ō, ou, oo, ー) and m/n before b, p, m are not
  told apart; the particles は, へ, を may be written wa, e, o.
- Korean: Revised Romanization of the pronounced form (korean-romanizer's liaison, final
  neutralisation and ㅎ aspiration; nasalisation, ㄹ assimilation and palatalisation added here),
  or of the spelling letter by letter.

The dictionaries are imported on first use per language, so modules that never check a reading
(Plan for Spanish, Finalize without items) do not pay for them. No AWS or LLM imports.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Protocol

from pydantic import BaseModel, Field

from havachat.models import LearningItem, ReadingFlag, ReadingStatus, VocabItem, VocabKind, VocabList

FILLED_MARK = "romanization_source"
"""`VocabItem.extra` key set to "dictionary" on rows whose missing romanization was filled."""

_SEVERITY = {ReadingStatus.OK: 0, ReadingStatus.AMBIGUOUS: 1, ReadingStatus.MISMATCH: 2}


@dataclass(frozen=True)
class ReadingCheck:
    status: ReadingStatus
    expected: str


class ReadingChecker(Protocol):
    def romanize(self, text: str) -> str:
        """The likeliest reading, written as a vocab list would write it."""
        ...

    def check(self, text: str, given: str) -> ReadingCheck | None:
        """How `given` compares with the dictionary; None when the text cannot be checked."""
        ...


def _worst(statuses: Iterable[ReadingStatus]) -> ReadingStatus:
    return max(statuses, key=_SEVERITY.__getitem__, default=ReadingStatus.OK)


# --------------------------------------------------------------------------------------------------
# Chinese (pypinyin)
# --------------------------------------------------------------------------------------------------
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_UNCHECKABLE = re.compile(r"[A-Za-z0-9\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_TONE_MARKS = {"\u0304": 1, "\u0301": 2, "\u030c": 3, "\u0300": 4}
_DIAERESIS = "\u0308"
_SANDHI_TONES = {"不": {"bu4", "bu2"}, "一": {"yi1", "yi2", "yi4"}}


@dataclass
class _Pinyin:
    """A written pinyin string as letters (ü as v), the tone written at each position, and word boundaries."""

    letters: str
    tones: dict[int, int]
    boundaries: set[int]

    @classmethod
    def parse(cls, text: str) -> _Pinyin:
        letters: list[str] = []
        tones: dict[int, int] = {}
        boundaries: set[int] = set()
        for char in unicodedata.normalize("NFD", text.casefold()):
            if "a" <= char <= "z":
                letters.append(char)
            elif char in _TONE_MARKS and letters:
                tones[len(letters) - 1] = _TONE_MARKS[char]
            elif char == _DIAERESIS and letters and letters[-1] == "u":
                letters[-1] = "v"
            elif char in "012345" and letters:
                tones[len(letters) - 1] = 5 if char in "05" else int(char)
                boundaries.add(len(letters))
            else:
                boundaries.add(len(letters))
        return cls("".join(letters), tones, boundaries)

    def tone_in(self, start: int, end: int) -> int | None:
        found = [tone for position, tone in self.tones.items() if start <= position < end]
        return found[-1] if found else None


def _split_tone(syllable: str) -> tuple[str, int]:
    """'hao3' -> ('hao', 3); pypinyin's TONE3 style with neutral_tone_with_five always ends in a digit."""
    return (syllable[:-1], int(syllable[-1])) if syllable[-1:].isdigit() else (syllable, 5)


class ChineseChecker:
    def __init__(self) -> None:
        import pypinyin  # noqa: F401  (fail here, clearly, when the extra is not installed)

    @staticmethod
    def _readings(run: str, *, heteronym: bool) -> list[list[str]]:
        from pypinyin import Style, pinyin

        return [
            [r.replace("ü", "v") for r in readings]
            for readings in pinyin(run, style=Style.TONE3, heteronym=heteronym, neutral_tone_with_five=True)
        ]

    @staticmethod
    @lru_cache(maxsize=4096)
    def _citation(char: str) -> str:
        return ChineseChecker._readings(char, heteronym=False)[0][0]

    def romanize(self, text: str) -> str:
        from pypinyin import Style, pinyin

        return "".join(r[0] for r in pinyin(text, style=Style.TONE, errors="default"))

    def check(self, text: str, given: str) -> ReadingCheck | None:
        if _UNCHECKABLE.search(text) or not _HAN.search(text):
            return None
        chars: list[str] = []
        primary: list[str] = []
        candidates: list[list[str]] = []
        run_start: list[bool] = []
        for run in _HAN.findall(text):
            chars.extend(run)
            primary.extend(r[0] for r in self._readings(run, heteronym=False))
            candidates.extend(self._readings(run, heteronym=True))
            run_start.extend(i == 0 for i in range(len(run)))
        expected = self._display(primary)
        written = _Pinyin.parse(given)
        spans = self._align(chars, primary, candidates, written)
        if spans is None:
            return ReadingCheck(ReadingStatus.MISMATCH, expected)
        toned = bool(written.tones)
        statuses = []
        for i, (start, end) in enumerate(spans):
            letters = written.letters[start:end]
            tone = (written.tone_in(start, end) or 5) if toned else None
            next_primary = primary[i + 1] if i + 1 < len(primary) else None
            statuses.append(
                self._syllable_status(chars[i], letters, tone, primary[i], candidates[i], next_primary, run_start[i])
            )
        return ReadingCheck(_worst(statuses), expected)

    def syllables(self, word: str, written: str | None = None) -> list[tuple[str, int]] | None:
        """(letters, tone) per character of an all-Han word: as `written` when it fits the dictionary and
        carries tones (so a list's neutral tones are kept), else the dictionary's likeliest reading."""
        if not word or _HAN.fullmatch(word) is None:
            return None
        primary = self._readings(word, heteronym=False)
        likeliest = [_split_tone(r[0]) for r in primary]
        if not written:
            return likeliest
        parsed = _Pinyin.parse(written)
        spans = self._align(list(word), [r[0] for r in primary], self._readings(word, heteronym=True), parsed)
        if spans is None or not parsed.tones:
            return likeliest
        result = []
        for (start, end), (letters, tone) in zip(spans, likeliest, strict=True):
            written_letters = parsed.letters[start:end]
            if written_letters == "r":  # erhua: 儿 merged into the syllable before
                return likeliest
            result.append((written_letters or letters, parsed.tone_in(start, end) or 5 if end > start else tone))
        return result

    def _syllable_status(
        self,
        char: str,
        letters: str,
        tone: int | None,
        primary: str,
        candidates: list[str],
        next_primary: str | None,
        first_in_run: bool,
    ) -> ReadingStatus:
        if char == "儿" and letters == "r":  # erhua written on the previous syllable
            return ReadingStatus.OK
        primary_letters, primary_tone = _split_tone(primary)
        if tone is None:  # no tones written anywhere: compare the syllables only
            return ReadingStatus.OK if letters == primary_letters else ReadingStatus.AMBIGUOUS
        written = f"{letters}{tone}"
        accepted = {primary, *(_SANDHI_TONES.get(char, set()) if primary_letters in ("bu", "yi") else set())}
        if primary_tone == 3 and next_primary is not None and _split_tone(next_primary)[1] == 3:
            accepted.add(f"{primary_letters}2")
        if letters == primary_letters and tone == 5 and not first_in_run:
            return ReadingStatus.OK
        if letters == primary_letters and primary_tone == 5 and written == self._citation(char):
            return ReadingStatus.OK
        if written in accepted:
            return ReadingStatus.OK
        if written in candidates or (tone == 5 and any(_split_tone(c)[0] == letters for c in candidates)):
            return ReadingStatus.AMBIGUOUS
        return ReadingStatus.MISMATCH

    @staticmethod
    def _align(
        chars: list[str], primary: list[str], candidates: list[list[str]], written: _Pinyin
    ) -> list[tuple[int, int]] | None:
        """Split the written letters into one syllable per character, each one of the character's readings."""
        letters = written.letters

        @cache
        def solve(i: int, position: int) -> tuple[tuple[int, int], ...] | None:
            if i == len(chars):
                return () if position == len(letters) else None
            options = list(dict.fromkeys(_split_tone(r)[0] for r in [primary[i], *candidates[i]]))
            if chars[i] == "儿" and i > 0:
                options.append("r")
            for option in options:
                end = position + len(option)
                if letters.startswith(option, position) and not any(position < b < end for b in written.boundaries):
                    rest = solve(i + 1, end)
                    if rest is not None:
                        return ((position, end), *rest)
            return None

        found = solve(0, 0)
        return list(found) if found is not None else None

    @staticmethod
    def _display(primary: Sequence[str]) -> str:
        from pypinyin.contrib.tone_convert import to_tone

        return " ".join(to_tone(s.replace("v", "ü")) for s in primary)


# --------------------------------------------------------------------------------------------------
# Japanese (pykakasi's dictionary, jaconv for kana <-> romaji)
# --------------------------------------------------------------------------------------------------
_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]")
_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff]")
_PARTICLES = {"は": ("ha", "wa"), "へ": ("he", "e"), "を": ("wo", "o")}
_PARTICLE_SOUNDS = {"は": "わ", "へ": "え", "を": "お"}
_MACRONS = str.maketrans({"ā": "aa", "ī": "ii", "ū": "uu", "ē": "ee", "ō": "ou", "â": "aa", "î": "ii", "û": "uu"})
_MACRONS_2 = str.maketrans({"ê": "ee", "ô": "ou"})


_LONG_VOWELS = (("ou", "o(?:u|o)?"), ("oo", "o(?:u|o)?"), ("ei", "e(?:i|e)?"), ("ee", "e(?:i|e)?"))


def _written_romaji(text: str) -> str:
    """Written romaji (or kana, converted) as plain letters: macrons doubled, m before b/p/m as n."""
    romaji = kana_to_romaji(text) if _KANA.search(text) else text.casefold().translate(_MACRONS)
    return _letters(romaji.translate(_MACRONS_2).replace("tch", "cch"))


def _letters(romaji: str) -> str:
    return re.sub(r"m(?=[bpm])", "n", re.sub(r"[^a-z]", "", romaji))


def _reading_regex(romaji: str) -> str:
    """A regex for one expected reading in which a long vowel may also be written short (ō, ou, oo, o)."""
    parts: list[str] = []
    i = 0
    while i < len(romaji):
        pair = romaji[i : i + 2]
        long_vowel = dict(_LONG_VOWELS).get(pair)
        if long_vowel is None and len(pair) == 2 and pair[0] == pair[1] and pair[0] in "aiu":
            long_vowel = f"{pair[0]}{pair[0]}?"
        if long_vowel is not None:
            parts.append(long_vowel)
            i += 2
        else:
            parts.append(re.escape(romaji[i]))
            i += 1
    return "".join(parts)


def kana_to_romaji(kana: str) -> str:
    """Hepburn romaji of kana: っ doubles the next consonant, ー repeats the vowel before it."""
    import jaconv

    romaji = jaconv.kana2alphabet(jaconv.kata2hira(kana))
    romaji = re.sub(r"xtsu(?=([bcdfghjkmnprstvwyz]))", lambda m: m.group(1), romaji)
    return re.sub(r"([aeiou])-", r"\1\1", romaji).replace("-", "")


class JapaneseChecker:
    def __init__(self) -> None:
        import pykakasi

        self._kakasi = pykakasi.kakasi()

    def tokens(self, text: str) -> list[tuple[str, str]]:
        """(surface, hiragana) per token; a trailing small っ moves to the token it doubles."""
        tokens = [(t["orig"], t["hira"]) for t in self._kakasi.convert(text)]
        for i in range(len(tokens) - 1):
            surface, hira = tokens[i]
            if hira.endswith("っ"):
                tokens[i] = (surface, hira[:-1])
                tokens[i + 1] = (tokens[i + 1][0], "っ" + tokens[i + 1][1])
        return tokens

    def romanize(self, text: str) -> str:
        return "".join(hira for _, hira in self.tokens(text))

    def check(self, text: str, given: str) -> ReadingCheck | None:
        if not (_KANJI.search(text) or _KANA.search(text)) or re.search(r"[A-Za-z0-9]", text):
            return None
        tokens = self.tokens(text)
        written = _written_romaji(given)
        expected = " ".join(filter(None, (_letters(kana_to_romaji(hira)) for _, hira in tokens)))
        likeliest = "".join(self._pattern(surface, [hira]) for surface, hira in tokens)
        if re.fullmatch(likeliest, written):
            return ReadingCheck(ReadingStatus.OK, expected)
        known = "".join(self._pattern(surface, self._alternatives(surface, hira)) for surface, hira in tokens)
        status = ReadingStatus.AMBIGUOUS if re.fullmatch(known, written) else ReadingStatus.MISMATCH
        return ReadingCheck(status, expected)

    @staticmethod
    def _pattern(surface: str, readings: Iterable[str]) -> str:
        readings = list(readings)
        if len(surface) > 1 and surface[-1] in _PARTICLE_SOUNDS:  # こんにちは: the は ending said わ
            readings += [r[:-1] + _PARTICLE_SOUNDS[surface[-1]] for r in readings if r.endswith(surface[-1])]
        options = {_reading_regex(_letters(kana_to_romaji(r))) for r in readings}
        if surface in _PARTICLES:
            options.update(_PARTICLES[surface])
        return "(?:" + "|".join(sorted(options)) + ")"

    @staticmethod
    def _alternatives(surface: str, hira: str) -> list[str]:
        """Every reading the dictionary lists for the token's kanji, with the token's kana ending."""
        if not _KANJI.search(surface):
            return [hira]
        readings = [hira]
        stem = re.match(r"[\u3400-\u9fff\uf900-\ufaff々]+", surface)
        for key, tail in ((surface, ""), (stem.group(0) if stem else "", surface[stem.end() :] if stem else "")):
            tails = (tail, _PARTICLE_SOUNDS[tail]) if tail in _PARTICLE_SOUNDS else (tail,)
            readings.extend(reading + t for reading in _kanwa_readings(key) for t in tails)
        return readings


def _kanwa_readings(key: str) -> list[str]:
    """Readings of an exact kanji key in pykakasi's kanwa dictionary (its only multi-reading source)."""
    if not key:
        return []
    from pykakasi.kanji import Kanwa

    table: dict[str, Any] | None = Kanwa().load(key)
    return [reading for reading, _ in (table or {}).get(key, [])]


# --------------------------------------------------------------------------------------------------
# Korean (korean-romanizer, Revised Romanization)
# --------------------------------------------------------------------------------------------------
_HANGUL_BASE, _JUNG, _JONG = 0xAC00, 21, 28
# Final consonant indexes (0 = none) by the sound they stop as, and the nasal they become before ㄴ/ㅁ.
_NASALISED = {1: 21, 2: 21, 3: 21, 24: 21, 9: 21, 7: 4, 19: 4, 20: 4, 22: 4, 23: 4, 25: 4, 17: 16, 18: 16, 26: 16}
_INITIAL_N, _INITIAL_M, _INITIAL_R, _INITIAL_NULL, _INITIAL_J, _INITIAL_CH = 2, 6, 5, 11, 12, 14
_FINAL_N, _FINAL_R, _FINAL_M, _FINAL_NG, _FINAL_D, _FINAL_T = 4, 8, 16, 21, 7, 25


def assimilate(text: str) -> str:
    """Apply the sound changes korean-romanizer leaves out: nasalisation, ㄹ assimilation, palatalisation."""
    syllables = [
        list(divmod(ord(c) - _HANGUL_BASE, _JONG)) if "가" <= c <= "힣" else None for c in text
    ]  # [initial*21+medial, final]
    out = list(text)
    for i in range(len(text) - 1):
        this, after = syllables[i], syllables[i + 1]
        if this is None or after is None:
            continue
        initial, medial = divmod(after[0], _JUNG)
        final = this[1]
        if initial in (_INITIAL_N, _INITIAL_M) and final in _NASALISED:
            this[1] = _NASALISED[final]
        elif initial == _INITIAL_R and final == _FINAL_N:
            this[1] = _FINAL_R
        elif initial == _INITIAL_R and final in (_FINAL_M, _FINAL_NG):
            after[0] = _INITIAL_N * _JUNG + medial
        elif initial == _INITIAL_NULL and medial == 20 and final in (_FINAL_D, _FINAL_T):  # 이
            this[1] = 0
            after[0] = (_INITIAL_J if final == _FINAL_D else _INITIAL_CH) * _JUNG + medial
    for i, syllable in enumerate(syllables):
        if syllable is not None:
            out[i] = chr(_HANGUL_BASE + syllable[0] * _JONG + syllable[1])
    return "".join(out)


class KoreanChecker:
    def __init__(self) -> None:
        import korean_romanizer  # noqa: F401

    @staticmethod
    def _romanize(text: str) -> str:
        from korean_romanizer.romanizer import Romanizer

        # korean-romanizer writes ㄹㄹ as "lr"; Revised Romanization writes "ll" (실라 silla).
        return str(Romanizer(text).romanize()).replace("lr", "ll")

    def romanize(self, text: str) -> str:
        return self._romanize(assimilate(text))

    def check(self, text: str, given: str) -> ReadingCheck | None:
        if not re.search(r"[가-힣]", text) or re.search(r"[A-Za-z0-9]", text):
            return None
        expected = self.romanize(text)
        accepted = {
            re.sub(r"[^a-z]", "", r.casefold()) for r in (expected, self._romanize(text), _letter_by_letter(text))
        }
        status = ReadingStatus.OK if re.sub(r"[^a-z]", "", given.casefold()) in accepted else ReadingStatus.MISMATCH
        return ReadingCheck(status, expected)


def _letter_by_letter(text: str) -> str:
    """The spelling transliterated syllable by syllable (RR's transliteration for each block alone)."""
    return " ".join(KoreanChecker._romanize(c) for c in text if "가" <= c <= "힣")


# --------------------------------------------------------------------------------------------------
# Which checker, and checking items and vocab
# --------------------------------------------------------------------------------------------------
_CHECKERS: dict[str, type[ChineseChecker] | type[JapaneseChecker] | type[KoreanChecker]] = {
    "zh": ChineseChecker,
    "ja": JapaneseChecker,
    "ko": KoreanChecker,
}


@cache
def checker_for(language: str) -> ReadingChecker | None:
    """The checker of a language (by its ISO 639-1 prefix: zh, zh-TW, ja, ko), or None: not checked."""
    factory = _CHECKERS.get(language.lower().split("-")[0].split("_")[0])
    return factory() if factory else None


def flag_readings(items: Sequence[LearningItem], language: str) -> list[LearningItem]:
    """The items with `reading_flags` set for every example whose romanization is ambiguous or wrong."""
    checker = checker_for(language)
    if checker is None:
        return list(items)
    flagged = []
    for item in items:
        flags = []
        for index, example in enumerate(item.examples):
            if not example.romanization:
                continue
            result = checker.check(example.text, example.romanization)
            if result is not None and result.status is not ReadingStatus.OK:
                flags.append(
                    ReadingFlag(
                        example=index,
                        text=example.text,
                        given=example.romanization,
                        expected=result.expected,
                        status=result.status,
                    )
                )
        flagged.append(item.model_copy(update={"reading_flags": flags}))
    return flagged


def fill_romanization(vocab: VocabList, language: str) -> VocabList:
    """The vocab with missing romanization of words filled from the dictionary (marked in `extra`)."""
    checker = checker_for(language)
    if checker is None or all(item.romanization or item.kind is not VocabKind.WORD for item in vocab.items):
        return vocab
    filled = [
        item.model_copy(
            update={"romanization": checker.romanize(item.word), "extra": {**item.extra, FILLED_MARK: "dictionary"}}
        )
        if not item.romanization and item.kind is VocabKind.WORD
        else item
        for item in vocab.items
    ]
    return vocab.model_copy(update={"items": filled})


class InputMismatch(BaseModel):
    word: str
    given: str
    expected: str
    status: ReadingStatus


class InputReadings(BaseModel):
    """How the vocab's own romanization compares with the dictionary."""

    checked: int = 0
    filled: int = 0
    mismatches: int = 0
    ambiguous: int = 0
    flagged: list[InputMismatch] = Field(default_factory=list, description="every ambiguous or mismatched row")


def check_vocab_readings(words: Iterable[VocabItem], language: str) -> InputReadings:
    """Check every word's given romanization; rows filled from the dictionary are counted, not checked."""
    report = InputReadings()
    checker = checker_for(language)
    if checker is None:
        return report
    for item in words:
        if item.kind is not VocabKind.WORD or not item.romanization:
            continue
        if item.extra.get(FILLED_MARK) == "dictionary":
            report.filled += 1
            continue
        result = checker.check(item.word, item.romanization)
        if result is None:
            continue
        report.checked += 1
        if result.status is ReadingStatus.OK:
            continue
        if result.status is ReadingStatus.MISMATCH:
            report.mismatches += 1
        else:
            report.ambiguous += 1
        report.flagged.append(
            InputMismatch(word=item.word, given=item.romanization, expected=result.expected, status=result.status)
        )
    return report


class ReadingCounts(BaseModel):
    mismatches: int = 0
    ambiguous: int = 0


class ReadingsSummary(BaseModel):
    """The run's reading checks: flagged examples overall and per category, and the input's own romanization."""

    checked: bool = Field(default=False, description="whether the language has a dictionary checker")
    examples_checked: int = 0
    mismatches: int = 0
    ambiguous: int = 0
    by_category: dict[str, ReadingCounts] = Field(default_factory=dict)
    input: InputReadings = Field(default_factory=InputReadings)


def summarise_readings(items: Iterable[LearningItem], words: Iterable[VocabItem], language: str) -> ReadingsSummary:
    """Count the items' reading flags and check the vocab's romanization (both zero for unchecked languages)."""
    if checker_for(language) is None:
        return ReadingsSummary()
    summary = ReadingsSummary(checked=True, input=check_vocab_readings(words, language))
    for item in items:
        counts = summary.by_category.setdefault(item.category.value, ReadingCounts())
        summary.examples_checked += sum(1 for e in item.examples if e.romanization)
        for flag in item.reading_flags:
            if flag.status is ReadingStatus.MISMATCH:
                counts.mismatches += 1
                summary.mismatches += 1
            elif flag.status is ReadingStatus.AMBIGUOUS:
                counts.ambiguous += 1
                summary.ambiguous += 1
    return summary

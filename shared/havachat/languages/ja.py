"""Japanese: readings checked against pykakasi's dictionary, and offline pronunciation and writing-system items.

What counts as the same reading: kana or Hepburn romaji; long vowels (ō, ou, oo, ー) and m/n before
b, p, m are not told apart; the particles は, へ, を may be written wa, e, o.

Offline items. Pronunciation: long vowels, geminates (small っ), ん before b/p/m. Writing system:
kanji shared across words, katakana loanwords, okurigana of i-adjectives.

pykakasi and jaconv (kana <-> romaji) are imported inside the functions that use them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from havachat.languages.common import Language, ReadingCheck, Word, group_item
from havachat.models import Category, GeneratedItem, ReadingStatus, VocabItem

# --------------------------------------------------------------------------------------------------
# Reading checks
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


@cache
def checker() -> JapaneseChecker:
    """The Japanese checker, built once (pykakasi is imported here on first use)."""
    return JapaneseChecker()


# --------------------------------------------------------------------------------------------------
# Offline items
# --------------------------------------------------------------------------------------------------
_KATAKANA_WORD = re.compile(r"[\u30a0-\u30ffー]+")
_BASIC_KANJI = re.compile(r"[\u4e00-\u9fff々]")
_LONG_VOWEL_GROUPS = (
    ("ō", re.compile(r"ou|oo"), "long o: おう or おお"),
    ("ē", re.compile(r"ei|ee"), "long e: えい or ええ"),
    ("ū", re.compile(r"uu"), "long u: うう"),
    ("ā", re.compile(r"aa"), "long a: ああ"),
    ("ī", re.compile(r"ii"), "long i: いい"),
)


def _analyse(words: Sequence[VocabItem]) -> list[tuple[Word, str]]:
    """Each word with its kana reading (the list's, else the dictionary's)."""
    found = []
    for item in words:
        kana = item.romanization if item.romanization and re.search(r"[\u3041-\u30ff]", item.romanization) else None
        kana = kana or checker().romanize(item.word)
        found.append((Word(item, kana_to_romaji(kana)), kana))
    return found


def _with_kana(word: Word, analysed: Sequence[tuple[Word, str]]) -> str:
    kana = next((k for w, k in analysed if w is word), "")
    return f"{word.text} ({kana})" if kana and kana != word.text else word.text


def _pronunciation_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _analyse(words)
    items: list[GeneratedItem | None] = []
    for macron, pattern, name in _LONG_VOWEL_GROUPS:
        group = []
        for word, kana in analysed:
            romaji = kana_to_romaji(kana)
            is_verb = "verb" in (word.item.pos or "")
            if pattern.search(romaji[:-2] if is_verb else romaji) and "ー" not in kana:
                group.append(word)
        items.append(
            group_item(
                f"Long vowel {macron} ({name})",
                f"{', '.join(_with_kana(w, analysed) for w in group[:4])} hold the vowel for two beats "
                f"({macron} in romaji). "
                "Vowel length changes meaning, so hold it fully.",
                group,
            )
        )
    items.append(
        group_item(
            "Long vowels in katakana: ー",
            "Katakana words mark a long vowel with ー: hold the vowel before it for an extra beat.",
            [w for w, kana in analysed if "ー" in kana],
        )
    )
    items.append(
        group_item(
            "Double consonants: small っ",
            "A small っ (ッ) is a full beat of silence before the next consonant, written as a doubled consonant "
            "in romaji (gakkō): pause, then release.",
            [w for w, kana in analysed if re.search("[っッ]", kana)],
        )
    )
    items.append(
        group_item(
            "ん before b, p and m sounds like m",
            "The moraic ん takes the place of the next sound: before b, p and m it is said (and often romanised) "
            "as m, and it always keeps its own beat.",
            [w for w, kana in analysed if re.search(r"n(?=[bpm])", kana_to_romaji(kana))],
        )
    )
    return [i for i in items if i is not None]


def _writing_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _analyse(words)
    items: list[GeneratedItem | None] = []
    sharing: dict[str, list[Word]] = defaultdict(list)
    for word, _ in analysed:
        for char in dict.fromkeys(_BASIC_KANJI.findall(word.text)):
            sharing[char].append(word)
    for char, group in sorted(sharing.items(), key=lambda kv: -len(kv[1])):
        items.append(
            group_item(
                f"The kanji {char} in {', '.join(w.text for w in group[:3])}",
                f"{char} appears in {', '.join(_with_kana(w, analysed) for w in group[:4])}. A kanji often has "
                "more than one reading; learn it through the words.",
                group,
            )
        )
    items.append(
        group_item(
            "Loanwords are written in katakana",
            "Words borrowed from other languages are written in katakana, with ー for long vowels.",
            [w for w, _ in analysed if _KATAKANA_WORD.fullmatch(w.text)],
        )
    )
    items.append(
        group_item(
            "Okurigana: the kana ending of i-adjectives",
            "I-adjectives are written with a kanji stem and the kana ending い, which changes when the adjective "
            "is inflected (青い, 青くない).",
            [
                w
                for w, _ in analysed
                if _BASIC_KANJI.search(w.text) and w.text.endswith("い") and "i-adj" in (w.item.pos or "")
            ],
        )
    )
    return [i for i in items if i is not None]


# What prompts ask the model to focus on, per category.
FOCUS: Mapping[Category, str] = {
    Category.PRONUNCIATION: (
        "Focus on pitch accent (high-low patterns that separate words such as 箸 hashi and 橋 hashi), "
        "long versus short vowels (おばさん versus おばあさん), the special morae: the small っ (sokuon, a "
        "doubled consonant), the moraic ん and how it changes before other sounds, and devoicing of i "
        "and u (です, します); mora timing. Write romaji in Hepburn with macrons or doubled vowels "
        "consistently."
    ),
    Category.WRITING_SYSTEM: (
        "Focus on hiragana, katakana and kanji and when each is used, okurigana, kanji components, and "
        "on'yomi versus kun'yomi readings of the listed kanji; small kana and the long-vowel mark ー in "
        "katakana."
    ),
    Category.PATTERN: (
        "Focus on particles (は, が, を, に, で, へ, と, も), verb and adjective forms (masu form, te form, "
        "i- versus na-adjectives), counters with the listed nouns, and sentence-final です/ます."
    ),
    Category.SOCIOLINGUISTIC: (
        "Focus on polite (丁寧語) versus plain speech, honorific and humble forms at an introductory "
        "level, and how people are addressed (さん, くん, ちゃん, titles)."
    ),
    Category.PRAGMATIC: (
        "Focus on indirect refusals, aizuchi, ちょっと and other softeners, and set phrases such as "
        "いただきます and よろしくお願いします."
    ),
}


LANGUAGE = Language(
    code="ja",
    name="Japanese",
    romanization="Hepburn romaji",
    focus=FOCUS,
    character_script=True,
    checker=checker,
    offline_items={Category.PRONUNCIATION: _pronunciation_items, Category.WRITING_SYSTEM: _writing_items},
)

"""Korean: Revised Romanization checked with korean-romanizer, and offline pronunciation items.

What counts as the same reading: Revised Romanization of the pronounced form, as RR writes it
(`pronounce`: aspiration and the silent ㅎ, palatalisation, ㄹ assimilation and nasalisation; then
korean-romanizer's liaison and final neutralisation). Tensing is not written, as in RR (학교 hakgyo);
ㄱ/ㄷ/ㅂ before ㅎ may be written apart, as RR writes nouns (묵호 Mukho). A letter-by-letter
transliteration (국물 gukmul) is a mismatch.

Offline items. Pronunciation: liaison and nasalisation in the list's words.

korean-romanizer is imported inside the functions that use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from itertools import pairwise

from havachat.languages.common import Language, ReadingCheck, Word, group_item
from havachat.models import Category, GeneratedItem, ReadingStatus, VocabItem

# --------------------------------------------------------------------------------------------------
# Reading checks
# --------------------------------------------------------------------------------------------------
_HANGUL_BASE, _JUNG, _JONG = 0xAC00, 21, 28
# Jamo indexes: initials (ㄱ=0 … ㅎ=18), finals (0 = none, ㄱ=1 … ㅎ=27), the medial ㅣ.
_I = {c: i for i, c in enumerate("ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ")}
_F = {c: i for i, c in enumerate(" ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")}
_MEDIAL_I = 20
# Obstruent finals by the nasal they become before ㄴ/ㅁ (ㄱ→ㅇ, ㄷ→ㄴ, ㅂ→ㅁ), compound finals included.
_NASALISED = {
    _F[f]: _F[n] for group, n in (("ㄱㄲㄳㅋㄺ", "ㅇ"), ("ㄷㅅㅆㅈㅊㅌ", "ㄴ"), ("ㅂㅄㅍㄿ", "ㅁ")) for f in group
}
# Obstruent finals before ㅎ: what stays in the syllable and the aspirate the ㅎ becomes.
_BEFORE_H = {
    **{_F[f]: (0, _I["ㅋ"]) for f in "ㄱㄲㅋ"},
    **{_F[f]: (0, _I["ㅌ"]) for f in "ㄷㅅㅆㅌ"},
    **{_F[f]: (0, _I["ㅊ"]) for f in "ㅈㅊ"},
    **{_F[f]: (0, _I["ㅍ"]) for f in "ㅂㅍ"},
    _F["ㄺ"]: (_F["ㄹ"], _I["ㅋ"]),
    _F["ㄼ"]: (_F["ㄹ"], _I["ㅍ"]),
    _F["ㄵ"]: (_F["ㄴ"], _I["ㅊ"]),
}
# ㅎ finals: what stays once the ㅎ has merged into the next consonant.
_H_FINALS = {_F["ㅎ"]: 0, _F["ㄶ"]: _F["ㄴ"], _F["ㅀ"]: _F["ㄹ"]}
_ASPIRATED = {_I["ㄱ"]: _I["ㅋ"], _I["ㄷ"]: _I["ㅌ"], _I["ㅈ"]: _I["ㅊ"], _I["ㅅ"]: _I["ㅆ"]}


def _jamo(text: str) -> list[list[int] | None]:
    """[initial, medial, final] per hangul syllable (None for anything else)."""
    return [
        [*divmod((ord(c) - _HANGUL_BASE) // _JONG, _JUNG), (ord(c) - _HANGUL_BASE) % _JONG]
        if "가" <= c <= "힣"
        else None
        for c in text
    ]


def pronounce(text: str, *, aspirate_after: bool = True) -> str:
    """The text respelled as it is said (what Revised Romanization writes): aspiration and the silent ㅎ,
    palatalisation, ㄹ assimilation and nasalisation. `aspirate_after=False` keeps ㄱ/ㄷ/ㅂ before ㅎ
    apart, as RR writes nouns (묵호 Mukho). Liaison and final neutralisation are left to korean-romanizer.
    """
    blocks = _jamo(text)
    for this, after in pairwise(blocks):
        if this is None or after is None:
            continue
        final, (initial, medial) = this[2], after[:2]
        if final in _H_FINALS:
            if initial in _ASPIRATED:
                after[0] = _ASPIRATED[initial]
            elif initial == _I["ㄴ"] and final == _F["ㅎ"]:
                this[2] = _F["ㄴ"]
                continue
            this[2] = _H_FINALS[final]
            final = this[2]
        elif initial == _I["ㅎ"] and final in _BEFORE_H and (aspirate_after or final in (_F["ㅈ"], _F["ㅊ"])):
            this[2], after[0] = _BEFORE_H[final]
            if after[0] == _I["ㅌ"] and medial == _MEDIAL_I:  # 닫히다 다치다
                after[0] = _I["ㅊ"]
            continue
        if initial == _I["ㅇ"] and medial == _MEDIAL_I and final in (_F["ㄷ"], _F["ㅌ"]):  # 같이 가치
            this[2], after[0] = 0, _I["ㅈ"] if final == _F["ㄷ"] else _I["ㅊ"]
        elif initial == _I["ㄹ"]:
            if final == _F["ㄴ"]:  # 신라 실라
                this[2] = _F["ㄹ"]
            elif final in (_F["ㅁ"], _F["ㅇ"]) or final in _NASALISED:  # 종로 종노, 독립 독닙 (then 동닙)
                after[0] = _I["ㄴ"]
        elif initial == _I["ㄴ"] and final == _F["ㄹ"]:  # 설날 설랄
            after[0] = _I["ㄹ"]
        if after[0] in (_I["ㄴ"], _I["ㅁ"]) and this[2] in _NASALISED:  # 국물 궁물
            this[2] = _NASALISED[this[2]]
    return "".join(
        chr(_HANGUL_BASE + (b[0] * _JUNG + b[1]) * _JONG + b[2]) if b is not None else c
        for c, b in zip(text, blocks, strict=True)
    )


class KoreanChecker:
    def __init__(self) -> None:
        import korean_romanizer  # noqa: F401

    @staticmethod
    def _romanize(text: str) -> str:
        from korean_romanizer.romanizer import Romanizer

        # korean-romanizer writes ㄹㄹ as "lr"; Revised Romanization writes "ll" (실라 silla).
        return str(Romanizer(text).romanize()).replace("lr", "ll")

    def romanize(self, text: str) -> str:
        return self._romanize(pronounce(text))

    def check(self, text: str, given: str) -> ReadingCheck | None:
        if not re.search(r"[가-힣]", text) or re.search(r"[A-Za-z0-9]", text):
            return None
        expected = self.romanize(text)
        accepted = {_letters(expected), _letters(self._romanize(pronounce(text, aspirate_after=False)))}
        status = ReadingStatus.OK if _letters(given) in accepted else ReadingStatus.MISMATCH
        return ReadingCheck(status, expected)


def _letters(romanized: str) -> str:
    return re.sub(r"[^a-z]", "", romanized.casefold())


@cache
def checker() -> KoreanChecker:
    """The Korean checker, built once (korean-romanizer is imported here on first use)."""
    return KoreanChecker()


# --------------------------------------------------------------------------------------------------
# Offline items
# --------------------------------------------------------------------------------------------------
def _assimilated(text: str) -> bool:
    """Whether a consonant of the word is said as ㄴ, ㅁ, ㅇ or ㄹ where it is spelled otherwise."""
    return any(
        (s[2] != p[2] and p[2] in (_F["ㄴ"], _F["ㅁ"], _F["ㅇ"], _F["ㄹ"]))
        or (s[0] != p[0] and p[0] in (_I["ㄴ"], _I["ㄹ"]))
        for s, p in zip(_jamo(text), _jamo(pronounce(text)), strict=True)
        if s and p
    )


def _pronunciation_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = [Word(item, checker().romanize(item.word)) for item in words if re.fullmatch("[가-힣]+", item.word)]

    def liaison(text: str) -> bool:
        return any(a[2] not in (0, _F["ㅇ"]) and b[0] == _I["ㅇ"] for a, b in pairwise(_jamo(text)) if a and b)

    items = [
        group_item(
            "Liaison: a final consonant moves to the next syllable",
            "When a syllable ends in a consonant and the next begins with the silent ㅇ, the consonant is said "
            "at the start of the next syllable.",
            [w for w in analysed if liaison(w.text)],
        ),
        group_item(
            "Nasalisation and ㄹ assimilation",
            "A stop before ㄴ or ㅁ becomes a nasal (ㄱ→ㅇ, ㄷ→ㄴ, ㅂ→ㅁ) and ㄴ next to ㄹ becomes ㄹ; Revised "
            "Romanization writes the sound.",
            [w for w in analysed if _assimilated(w.text)],
        ),
    ]
    return [i for i in items if i is not None]


# What prompts ask the model to focus on, per category.
FOCUS: Mapping[Category, str] = {
    Category.PRONUNCIATION: (
        "Focus on the three-way contrast of plain, aspirated and tense consonants (ㄱ/ㅋ/ㄲ), batchim "
        "and the seven final sounds, resyllabification (linking) and sound changes such as nasalisation "
        "and tensing."
    ),
    Category.WRITING_SYSTEM: (
        "Focus on how hangul letters combine into syllable blocks, vowels built from strokes, batchim, "
        "and Sino-Korean words with their hanja when helpful."
    ),
    Category.PATTERN: (
        "Focus on particles (은/는, 이/가, 을/를), verb endings, the present tense in 요 style, and "
        "native versus Sino-Korean numbers with counters."
    ),
    Category.SOCIOLINGUISTIC: (
        "Focus on speech levels (합니다 style, 해요 style, 반말) and honorifics (시, 께서, 드리다)."
    ),
}


LANGUAGE = Language(
    code="ko",
    name="Korean",
    romanization="Revised Romanization of Korean",
    focus=FOCUS,
    checker=checker,
    offline_items={Category.PRONUNCIATION: _pronunciation_items},
)

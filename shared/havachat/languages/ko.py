"""Korean: Revised Romanization checked with korean-romanizer, and offline pronunciation items.

What counts as the same reading: Revised Romanization of the pronounced form (korean-romanizer's
liaison, final neutralisation and ㅎ aspiration; nasalisation, ㄹ assimilation and palatalisation added
here), or of the spelling letter by letter.

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


@cache
def checker() -> KoreanChecker:
    """The Korean checker, built once (korean-romanizer is imported here on first use)."""
    return KoreanChecker()


# --------------------------------------------------------------------------------------------------
# Offline items
# --------------------------------------------------------------------------------------------------
def _pronunciation_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = [Word(item, checker().romanize(item.word)) for item in words if re.fullmatch("[가-힣]+", item.word)]

    def liaison(text: str) -> bool:
        codes = [ord(c) - _HANGUL_BASE for c in text]
        return any(
            a % _JONG not in (0, _FINAL_NG) and (b // _JONG) // _JUNG == _INITIAL_NULL for a, b in pairwise(codes)
        )

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
            [w for w in analysed if assimilate(w.text) != w.text],
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

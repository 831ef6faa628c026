"""Korean: Revised Romanization checked with korean-romanizer, and offline pronunciation and writing items.

What counts as the same reading: Revised Romanization of the pronounced form, as RR writes it
(`pronounce`: aspiration and the silent ㅎ, palatalisation, ㄹ assimilation and nasalisation; then
korean-romanizer's liaison and final neutralisation). Tensing is not written, as in RR (학교 hakgyo);
ㄱ/ㄷ/ㅂ before ㅎ may be written apart, as RR writes nouns (묵호 Mukho). A letter-by-letter
transliteration (국물 gukmul) is a mismatch.

Offline items. Pronunciation: liaison, the silent ㅎ, nasalisation, ㄹ assimilation, ㄹ said ㄴ, palatalisation,
aspiration, and tense and aspirated consonants in the list's words. Writing system: double final consonants
(겹받침).

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
_DOUBLE_FINALS = {_F[f] for f in "ㄳㄵㄺㄻㄼㄽㄾㄿㅄ"}  # ㄶ and ㅀ: the ㅎ merges or is silent (aspiration)
_TENSE = {_I[c] for c in "ㄲㄸㅃㅆㅉ"}
_ASPIRATE_INITIALS = {_I[c] for c in "ㅋㅌㅍㅊ"}
_PLAIN_INITIALS = {_I[c] for c in "ㄱㄷㅂㅅㅈ"}


def _pairs(text: str) -> list[tuple[list[int], list[int]]]:
    """Each two neighbouring hangul syllables of the word as spelled, [initial, medial, final] each."""
    return [(a, b) for a, b in pairwise(_jamo(text)) if a and b]


_FINAL_AS_INITIAL = {_F[c]: _I[c] for c in "ㄱㄲㄴㄷㄹㅁㅂㅅㅆㅈㅊㅋㅌㅍ"}


def _palatalised(text: str) -> bool:
    """A final ㄷ or ㅌ before 이, said ㅈ or ㅊ: 같이 [가치], 굳이 [구지]."""
    return any(a[2] in (_F["ㄷ"], _F["ㅌ"]) and b[0] == _I["ㅇ"] and b[1] == _MEDIAL_I for a, b in _pairs(text))


_KEPT_FINALS = {_F[c] for c in "ㄱㄴㄷㄹㅁㅂ"}  # said as written at the end of a syllable, so linked as written
_ENDINGS = {ord(c) for c in "이을은에아어으요와의"}
"""Syllables that begin grammatical endings: a final moves onto them as written (옷이 [오시]), while before a
word of its own it is first said as a final (겉옷 [거돋]), which these items leave out."""


def _links(final: int, after: str) -> bool:
    return final in _KEPT_FINALS or (final in _FINAL_AS_INITIAL and ord(after) in _ENDINGS)


def _liaison(text: str) -> bool:
    """A single final consonant (not ㅇ or ㅎ) moving onto a following silent ㅇ as written: 음악 [으막], 옷이 [오시];
    not a word whose final is neutralised before a word of its own (겉옷)."""
    pairs = [(a, b, after) for (a, b), after in zip(_pairs(text), text[1:], strict=False) if b[0] == _I["ㅇ"]]
    moved = [_links(a[2], after) for a, b, after in pairs if a[2] in _FINAL_AS_INITIAL]
    return not _palatalised(text) and bool(moved) and all(moved)


def _rieul_as_nieun(text: str) -> bool:
    """ㄹ after a final other than ㄴ or ㄹ, said ㄴ: 종로 [종노], 심리 [심니], 독립 [동닙]."""
    return any(a[2] not in (0, _F["ㄴ"], _F["ㄹ"]) and b[0] == _I["ㄹ"] for a, b in _pairs(text))


def _linked(text: str) -> str:
    """The word respelled with each single final consonant moved onto a following silent ㅇ (음악 으막)."""
    blocks = _jamo(text)
    for a, b in pairwise(blocks):
        if a and b and a[2] in _FINAL_AS_INITIAL and b[0] == _I["ㅇ"]:
            a[2], b[0] = 0, _FINAL_AS_INITIAL[a[2]]
    return "".join(
        chr(_HANGUL_BASE + (b[0] * _JUNG + b[1]) * _JONG + b[2]) if b else c for c, b in zip(text, blocks, strict=True)
    )


def _silent_h(text: str) -> bool:
    """A final ㅎ before a vowel, where it is not said: 좋아요 [조아요]."""
    return any(a[2] in _H_FINALS and b[0] == _I["ㅇ"] for a, b in _pairs(text))


def _nasalised(text: str) -> bool:
    """A stop final before ㄴ or ㅁ, said as a nasal: 작년 [장년], 입니다 [임니다]."""
    return any(a[2] in _NASALISED and b[0] in (_I["ㄴ"], _I["ㅁ"]) for a, b in _pairs(text))


def _lateralised(text: str) -> bool:
    """ㄴ and ㄹ side by side, both said ㄹ: 신라 [실라], 설날 [설랄]."""
    return any((a[2], b[0]) in ((_F["ㄴ"], _I["ㄹ"]), (_F["ㄹ"], _I["ㄴ"])) for a, b in _pairs(text))


def _aspirated(text: str) -> bool:
    """ㅎ next to ㄱ, ㄷ, ㅂ or ㅈ, the two said as one aspirated consonant: 축하 [추카], 좋다 [조타]."""
    return any(
        (a[2] in _H_FINALS and b[0] in _ASPIRATED) or (b[0] == _I["ㅎ"] and a[2] in _BEFORE_H) for a, b in _pairs(text)
    )


def _initials(text: str, initials: set[int]) -> bool:
    return any(block is not None and block[0] in initials for block in _jamo(text))


def _said_as(word: Word) -> str:
    said = _linked(pronounce(word.text))
    return f"{word.text} [{said}]" if said != word.text else word.text


def _hangul_words(words: Sequence[VocabItem]) -> list[Word]:
    return [Word(item, checker().romanize(item.word)) for item in words if re.fullmatch("[가-힣]+", item.word)]


def _tensed(text: str) -> bool:
    """A plain ㄱ, ㄷ, ㅂ, ㅅ or ㅈ after a stop final, said tense (떡볶이 [떡뽀끼]): a change the respelling
    does not show, as Revised Romanization does not write it."""
    return any(a[2] in _NASALISED and b[0] in _PLAIN_INITIALS for a, b in _pairs(text))


def _sound_change(title: str, rule: str, group: Sequence[Word]) -> GeneratedItem | None:
    """An item on one sound change, with the words shown as said; words that are also tensed are left out."""
    shown = [w for w in group if not _tensed(w.text)]
    return group_item(title, f"{rule} Said: {', '.join(_said_as(w) for w in shown[:3])}.", shown)


def _pronunciation_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _hangul_words(words)
    items = [
        _sound_change(
            "Liaison: a final consonant moves to the next syllable",
            "When a syllable ends in a consonant and the next begins with the silent ㅇ, the consonant is said at "
            "the start of the next syllable.",
            [w for w in analysed if _liaison(w.text)],
        ),
        _sound_change(
            "The final ㅎ is silent before a vowel",
            "A final ㅎ (also in ㄶ and ㅀ) is not said when the next syllable begins with the silent ㅇ.",
            [w for w in analysed if _silent_h(w.text)],
        ),
        _sound_change(
            "Nasalisation: ㄱ, ㄷ, ㅂ before ㄴ or ㅁ",
            "A final ㄱ, ㄷ or ㅂ sound before ㄴ or ㅁ becomes the nasal ㅇ, ㄴ or ㅁ; Revised Romanization "
            "writes the sound.",
            [w for w in analysed if _nasalised(w.text)],
        ),
        _sound_change(
            "ㄹ assimilation: ㄴ next to ㄹ is said ㄹ",
            "When ㄴ and ㄹ meet, in either order, both are said as ㄹ (a long l); Revised Romanization writes ll.",
            [w for w in analysed if _lateralised(w.text)],
        ),
        _sound_change(
            "ㄹ is said ㄴ after ㅁ, ㅇ and the stops",
            "After a final consonant other than ㄴ or ㄹ, ㄹ is said ㄴ (종로 [종노], 심리 [심니]); a final ㄱ or ㅂ "
            "before it then becomes nasal too (독립 [동닙]).",
            [w for w in analysed if _rieul_as_nieun(w.text)],
        ),
        _sound_change(
            "Palatalisation: ㄷ and ㅌ before 이 are said ㅈ and ㅊ",
            "A final ㄷ or ㅌ before the syllable 이 moves to it as ㅈ or ㅊ, not as ㄷ or ㅌ.",
            [w for w in analysed if _palatalised(w.text)],
        ),
        _sound_change(
            "Aspiration: ㅎ merges with ㄱ, ㄷ, ㅂ or ㅈ",
            "ㅎ next to ㄱ, ㄷ, ㅂ or ㅈ, before or after it, merges with it into the aspirated ㅋ, ㅌ, ㅍ or ㅊ.",
            [w for w in analysed if _aspirated(w.text)],
        ),
        group_item(
            "Tense consonants: ㄲ, ㄸ, ㅃ, ㅆ, ㅉ",
            "The doubled letters are tense consonants: said with a tight throat, no puff of air and a higher "
            "pitch on the vowel after them (빵 ppang, 싸다 ssada).",
            [w for w in analysed if _initials(w.text, _TENSE)],
        ),
        group_item(
            "Aspirated consonants: ㅋ, ㅌ, ㅍ, ㅊ",
            "ㅋ, ㅌ, ㅍ and ㅊ are said with a strong puff of air, unlike the plain ㄱ, ㄷ, ㅂ, ㅈ and the tense "
            "ㄲ, ㄸ, ㅃ, ㅉ; the three-way contrast changes meaning (달 moon, 딸 daughter, 탈 mask).",
            [w for w in analysed if _initials(w.text, _ASPIRATE_INITIALS)],
        ),
    ]
    return [i for i in items if i is not None]


def _writing_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _hangul_words(words)
    doubled = [w for w in analysed if any(b is not None and b[2] in _DOUBLE_FINALS for b in _jamo(w.text))]
    items = [
        group_item(
            "Double final consonants (겹받침)",
            "Some syllables end in two written consonants. Before a consonant or at the end of a word only one "
            "of them is said (값 [갑], 닭 [닥]); before a vowel the second moves to the next syllable (값이 [갑씨]).",
            doubled,
        )
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
    offline_items={Category.PRONUNCIATION: _pronunciation_items, Category.WRITING_SYSTEM: _writing_items},
)

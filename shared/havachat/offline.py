"""The offline generator: real pronunciation and writing-system items from dictionary analysis, no LLM.

It is what `havachat run` uses when no LLM is configured (provider `offline`, or `auto` without
credentials), and it can be chosen on AWS with HAVACHAT_PROVIDER=offline. Everything it writes is
derived from the list and the dictionaries in `havachat.readings`, cites only list words, and is
marked `generator="offline"`, `model="offline"` in its provenance, at zero tokens and cost.

- Chinese, pronunciation: tone pairs of the two-syllable words, third-tone sandhi (你好), 不 and
  一 sandhi with the list's own words (不去 bú qù, 一个 yí gè), neutral-tone words (grouped by
  reduplication and shared suffix), characters read two ways in the list (觉 in 睡觉 / 觉得).
  Writing system: characters shared across words.
- Japanese, pronunciation: long vowels, geminates (small っ), ん before b/p/m. Writing system:
  kanji shared across words, katakana loanwords, okurigana of i-adjectives.
- Korean, pronunciation: liaison and nasalisation in the list's words.

Idioms, functional language, culture, sociolinguistics, pragmatics, literacy and patterns need an
LLM: Plan leaves them out of an offline run and the run summary names them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from havachat.generation import BatchResult
from havachat.ledger import UsageTotals
from havachat.models import (
    BatchSpec,
    Category,
    Example,
    GeneratedItem,
    LearningItemBatch,
    Level,
    Provenance,
    VocabItem,
    VocabKind,
)
from havachat.postprocess import finish_items
from havachat.readings import ChineseChecker, JapaneseChecker, KoreanChecker, assimilate, checker_for, kana_to_romaji

OFFLINE_MODEL = "offline"
OFFLINE_VERSION = "offline-2026-11.1"
OFFLINE_CATEGORIES: tuple[Category, ...] = (Category.PRONUNCIATION, Category.WRITING_SYSTEM)
LLM_CATEGORIES: tuple[Category, ...] = tuple(c for c in Category if c not in OFFLINE_CATEGORIES)
OFFLINE_LANGUAGES = ("zh", "ja", "ko")
MAX_SOURCE_WORDS = 12


def offline_note(language: str | None = None) -> str:
    """One line saying what an offline run gives and how to get the rest."""
    supported = (language or "").lower().split("-")[0] in OFFLINE_LANGUAGES if language else True
    what = (
        f"{', '.join(c.value for c in OFFLINE_CATEGORIES)} items from dictionary analysis"
        if supported
        else f"no items for {language} (offline items exist for {', '.join(OFFLINE_LANGUAGES)})"
    )
    return (
        f"offline generator: {what}; {', '.join(c.value for c in LLM_CATEGORIES)} need an LLM "
        "(set ANTHROPIC_API_KEY, or --provider bedrock with AWS credentials)"
    )


@dataclass(frozen=True)
class _Word:
    item: VocabItem
    reading: str  # the list's romanization (or the dictionary's), as shown to learners

    @property
    def text(self) -> str:
        return self.item.word

    def example(self) -> Example:
        return Example(text=self.text, romanization=self.reading or None, translation=_gloss(self.item))


def _gloss(item: VocabItem) -> str:
    return item.definition or f"(the word {item.word})"


def _item(title: str, explanation: str, examples: Sequence[Example], words: Sequence[str]) -> GeneratedItem:
    return GeneratedItem(
        title=title,
        explanation=explanation,
        examples=list(examples)[:3],
        source_words=list(dict.fromkeys(words))[:MAX_SOURCE_WORDS],
    )


def _group_item(title: str, explanation: str, group: Sequence[_Word]) -> GeneratedItem | None:
    if len(group) < 2:
        return None
    return _item(title, explanation, [w.example() for w in group], [w.text for w in group])


# --------------------------------------------------------------------------------------------------
# Chinese
# --------------------------------------------------------------------------------------------------
_TONE_NAMES = {1: "high level first", 2: "rising second", 3: "low dipping third", 4: "falling fourth", 5: "neutral"}


def _pinyin(letters: str, tone: int) -> str:
    from pypinyin.contrib.tone_convert import to_tone

    return str(to_tone(f"{letters.replace('v', 'ü')}{tone if tone != 5 else ''}"))


@dataclass(frozen=True)
class _ZhWord(_Word):
    syllables: tuple[tuple[str, int], ...]

    @property
    def tones(self) -> tuple[int, ...]:
        return tuple(t for _, t in self.syllables)


def _zh_words(words: Sequence[VocabItem]) -> list[_ZhWord]:
    checker = checker_for("zh")
    assert isinstance(checker, ChineseChecker)
    found = []
    for item in words:
        syllables = checker.syllables(item.word, item.romanization)
        if syllables is not None:
            reading = item.romanization or " ".join(_pinyin(letters, tone) for letters, tone in syllables)
            found.append(_ZhWord(item, reading, tuple(syllables)))
    return found


def _zh_pronunciation(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _zh_words(words)
    by_text = {w.text: w for w in analysed}
    items: list[GeneratedItem | None] = []

    items.append(_zh_third_tone_sandhi(analysed, by_text))
    items.append(_zh_tone_sandhi_word("不", "bu", by_text, analysed))
    items.append(_zh_tone_sandhi_word("一", "yi", by_text, analysed))
    items.extend(_zh_neutral_tone(analysed))
    items.extend(_zh_heteronyms(analysed))

    pairs: dict[tuple[int, int], list[_ZhWord]] = defaultdict(list)
    for w in analysed:
        if len(w.tones) == 2 and 5 not in w.tones and w.tones != (3, 3) and not set(w.text) & {"不", "一", "儿"}:
            pairs[(w.tones[0], w.tones[1])].append(w)
    for (first, second), group in sorted(pairs.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        half_third = " Before a non-third tone the third tone stays low and does not rise (a half third)."
        items.append(
            _group_item(
                f"Tone pair {first}-{second}: {_TONE_NAMES[first]} + {_TONE_NAMES[second]}",
                f"In {', '.join(w.text for w in group[:4])} a {_TONE_NAMES[first]} tone is followed by a "
                f"{_TONE_NAMES[second]} tone; practise the pair as one contour." + (half_third if first == 3 else ""),
                group,
            )
        )
    return [i for i in items if i is not None]


def _first_sense(item: VocabItem) -> str:
    sense = _gloss(item).split(";")[0].strip()
    return sense[3:] if sense.startswith("to ") else sense


def _zh_third_tone_sandhi(analysed: Sequence[_ZhWord], by_text: dict[str, _ZhWord]) -> GeneratedItem | None:
    """Words with two third tones in a row, and the list's own 你好 / 很 + adjective / 我 + verb phrases."""
    shown: list[tuple[Example, list[str]]] = [
        (w.example(), [w.text]) for w in analysed if any(a == b == 3 for a, b in pairwise(w.tones))
    ]
    third = [w for w in analysed if len(w.text) == 1 and w.tones == (3,)]
    phrases: list[tuple[_ZhWord, _ZhWord, str]] = []
    if "你" in by_text and "好" in by_text and by_text["好"].tones == (3,):
        phrases.append((by_text["你"], by_text["好"], "hello"))
    for head, kinds, english in (("很", ("adj", "a"), "very {}"), ("我", ("v", "verb"), "I {}")):
        if head in by_text and by_text[head].tones == (3,):
            phrases += [
                (by_text[head], w, english.format(_first_sense(w.item)))
                for w in third
                if (w.item.pos or "").lower() in kinds and w.text != head
            ][:2]
    for first, second, english in phrases:
        romanization = f"{_pinyin(*first.syllables[0])} {_pinyin(*second.syllables[0])}"
        shown.append(
            (Example(text=first.text + second.text, romanization=romanization, translation=english),
             [first.text, second.text])
        )  # fmt: skip
    if len(shown) < 2:
        return None
    return _item(
        "Third-tone sandhi: 3 + 3 is said 2 + 3",
        f"When two third tones meet, the first one rises like a second tone: {shown[0][0].text} is written with "
        "two third tones but its first syllable is said rising. Pinyin keeps the written third tone.",
        [example for example, _ in shown[:3]],
        [word for _, words in shown[:3] for word in words],
    )


def _zh_tone_sandhi_word(
    char: str, letters: str, by_text: dict[str, _ZhWord], analysed: Sequence[_ZhWord]
) -> GeneratedItem | None:
    """不 or 一 with the list's own words: rising before a fourth tone, its other tone elsewhere."""
    if char not in by_text:
        return None
    # 一 before a measure word; 不 before a one-character verb or adjective.
    partners = [
        w
        for w in analysed
        if len(w.text) == 1
        and w.text != char
        and w.tones[0] != 5
        and (
            ("m" in (w.item.pos or "").lower().split() or "measure" in _gloss(w.item))
            if char == "一"
            else (w.item.pos or "").lower() in ("v", "verb", "adj", "a", "adjective")
        )
    ]
    fourth = [w for w in partners if w.tones[0] == 4][:2]
    other = [w for w in partners if w.tones[0] != 4][:1]
    in_words = [w for w in analysed if char in w.text and len(w.text) > 1][:1]
    if len(fourth) + len(other) + len(in_words) < 2 or not (fourth or in_words):
        return None
    plain = "yì" if char == "一" else "bù"

    def phrase(w: _ZhWord, said: str) -> tuple[Example, list[str]]:
        english = f"one ({_gloss(w.item)})" if char == "一" else f"not {_first_sense(w.item)}"
        romanization = f"{said} {_pinyin(*w.syllables[0])}"
        return Example(text=f"{char}{w.text}", romanization=romanization, translation=english), [char, w.text]

    shown = [phrase(w, _pinyin(letters, 2)) for w in fourth] + [phrase(w, plain) for w in other]
    shown += [(w.example(), [w.text]) for w in in_words]
    citation = "yī" if char == "一" else "bù"
    rule = (
        "一 is yī on its own and in counting, yí before a fourth tone and yì before the other tones"
        if char == "一"
        else "不 is bù, but bú before a fourth tone"
    )
    return _item(
        f"Tone change of {char}: {_pinyin(letters, 2)} before a fourth tone",
        f"{rule} ({citation} in the dictionary). The change is said, and pinyin in textbooks usually writes it.",
        [example for example, _ in shown[:3]],
        [char, *(word for _, words in shown[:3] for word in words)],
    )


def _zh_neutral_tone(analysed: Sequence[_ZhWord]) -> list[GeneratedItem | None]:
    neutral = [w for w in analysed if len(w.tones) > 1 and w.tones[-1] == 5]
    doubled = [w for w in neutral if len(w.text) == 2 and w.text[0] == w.text[1]]
    items: list[GeneratedItem | None] = [
        _group_item(
            "Neutral tone in doubled words",
            "In doubled words such as family names (爸爸, 妈妈) the second syllable loses its tone: it is short "
            "and light, and pinyin writes it without a tone mark.",
            doubled,
        )
    ]
    by_suffix: dict[str, list[_ZhWord]] = defaultdict(list)
    for w in neutral:
        if w not in doubled:
            by_suffix[w.text[-1]].append(w)
    for suffix, group in sorted(by_suffix.items(), key=lambda kv: -len(kv[1])):
        letters = group[0].syllables[-1][0]
        items.append(
            _group_item(
                f"Neutral-tone ending {suffix} ({letters})",
                f"{suffix} at the end of {', '.join(w.text for w in group[:4])} is toneless: say it short and "
                "light, at a pitch set by the tone before it.",
                group,
            )
        )
    return items


def _zh_heteronyms(analysed: Sequence[_ZhWord]) -> list[GeneratedItem | None]:
    readings: dict[str, dict[str, list[_ZhWord]]] = defaultdict(lambda: defaultdict(list))
    for w in analysed:
        for char, (letters, tone) in zip(w.text, w.syllables, strict=True):
            if char not in "不一" and tone != 5:
                readings[char][_pinyin(letters, tone)].append(w)
    items: list[GeneratedItem | None] = []
    for char, by_reading in readings.items():
        if len(by_reading) < 2:
            continue
        chosen = [group[0] for group in by_reading.values()]
        items.append(
            _item(
                f"{char} has more than one reading: {' / '.join(by_reading)}",
                f"The character {char} is read {' or '.join(by_reading)} depending on the word: "
                + "; ".join(f"{r} in {', '.join(w.text for w in g[:3])}" for r, g in by_reading.items())
                + ". Learn the reading with the word.",
                [w.example() for w in chosen],
                [w.text for group in by_reading.values() for w in group],
            )
        )
    return items


def _zh_writing(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _zh_words(words)
    by_text = {w.text: w for w in analysed}
    sharing: dict[str, list[_ZhWord]] = defaultdict(list)
    for w in analysed:
        for char in dict.fromkeys(w.text):
            sharing[char].append(w)
    items = []
    for char, group in sorted(sharing.items(), key=lambda kv: -len(kv[1])):
        compounds = [w for w in group if len(w.text) > 1]
        if len(group) < 2 or not compounds:
            continue
        alone = by_text.get(char)
        meaning = f" ({_gloss(alone.item)})" if alone else ""
        items.append(
            _item(
                f"The character {char} in {', '.join(w.text for w in group[:3])}",
                f"{char}{meaning} is written the same in {', '.join(w.text for w in group[:6])}: "
                "recognising it helps to read and remember each word.",
                [w.example() for w in ([alone] if alone else []) + compounds],
                [w.text for w in group],
            )
        )
    return items


# --------------------------------------------------------------------------------------------------
# Japanese
# --------------------------------------------------------------------------------------------------
_KATAKANA_WORD = re.compile(r"[\u30a0-\u30ffー]+")
_KANJI_CHAR = re.compile(r"[\u4e00-\u9fff々]")
_LONG_VOWEL_GROUPS = (
    ("ō", re.compile(r"ou|oo"), "long o: おう or おお"),
    ("ē", re.compile(r"ei|ee"), "long e: えい or ええ"),
    ("ū", re.compile(r"uu"), "long u: うう"),
    ("ā", re.compile(r"aa"), "long a: ああ"),
    ("ī", re.compile(r"ii"), "long i: いい"),
)


def _ja_words(words: Sequence[VocabItem]) -> list[tuple[_Word, str]]:
    """Each word with its kana reading (the list's, else the dictionary's)."""
    checker = checker_for("ja")
    assert isinstance(checker, JapaneseChecker)
    found = []
    for item in words:
        kana = item.romanization if item.romanization and re.search(r"[\u3041-\u30ff]", item.romanization) else None
        kana = kana or checker.romanize(item.word)
        found.append((_Word(item, kana_to_romaji(kana)), kana))
    return found


def _with_kana(word: _Word, analysed: Sequence[tuple[_Word, str]]) -> str:
    kana = next((k for w, k in analysed if w is word), "")
    return f"{word.text} ({kana})" if kana and kana != word.text else word.text


def _ja_pronunciation(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _ja_words(words)
    items: list[GeneratedItem | None] = []
    for macron, pattern, name in _LONG_VOWEL_GROUPS:
        group = []
        for word, kana in analysed:
            romaji = kana_to_romaji(kana)
            is_verb = "verb" in (word.item.pos or "")
            if pattern.search(romaji[:-2] if is_verb else romaji) and "ー" not in kana:
                group.append(word)
        items.append(
            _group_item(
                f"Long vowel {macron} ({name})",
                f"{', '.join(_with_kana(w, analysed) for w in group[:4])} hold the vowel for two beats "
                f"({macron} in romaji). "
                "Vowel length changes meaning, so hold it fully.",
                group,
            )
        )
    items.append(
        _group_item(
            "Long vowels in katakana: ー",
            "Katakana words mark a long vowel with ー: hold the vowel before it for an extra beat.",
            [w for w, kana in analysed if "ー" in kana],
        )
    )
    items.append(
        _group_item(
            "Double consonants: small っ",
            "A small っ (ッ) is a full beat of silence before the next consonant, written as a doubled consonant "
            "in romaji (gakkō): pause, then release.",
            [w for w, kana in analysed if re.search("[っッ]", kana)],
        )
    )
    items.append(
        _group_item(
            "ん before b, p and m sounds like m",
            "The moraic ん takes the place of the next sound: before b, p and m it is said (and often romanised) "
            "as m, and it always keeps its own beat.",
            [w for w, kana in analysed if re.search(r"n(?=[bpm])", kana_to_romaji(kana))],
        )
    )
    return [i for i in items if i is not None]


def _ja_writing(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _ja_words(words)
    items: list[GeneratedItem | None] = []
    sharing: dict[str, list[_Word]] = defaultdict(list)
    for word, _ in analysed:
        for char in dict.fromkeys(_KANJI_CHAR.findall(word.text)):
            sharing[char].append(word)
    for char, group in sorted(sharing.items(), key=lambda kv: -len(kv[1])):
        items.append(
            _group_item(
                f"The kanji {char} in {', '.join(w.text for w in group[:3])}",
                f"{char} appears in {', '.join(_with_kana(w, analysed) for w in group[:4])}. A kanji often has "
                "more than one reading; learn it through the words.",
                group,
            )
        )
    items.append(
        _group_item(
            "Loanwords are written in katakana",
            "Words borrowed from other languages are written in katakana, with ー for long vowels.",
            [w for w, _ in analysed if _KATAKANA_WORD.fullmatch(w.text)],
        )
    )
    items.append(
        _group_item(
            "Okurigana: the kana ending of i-adjectives",
            "I-adjectives are written with a kanji stem and the kana ending い, which changes when the adjective "
            "is inflected (青い, 青くない).",
            [
                w
                for w, _ in analysed
                if _KANJI_CHAR.search(w.text) and w.text.endswith("い") and "i-adj" in (w.item.pos or "")
            ],
        )
    )
    return [i for i in items if i is not None]


# --------------------------------------------------------------------------------------------------
# Korean
# --------------------------------------------------------------------------------------------------
def _ko_pronunciation(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    checker = checker_for("ko")
    assert isinstance(checker, KoreanChecker)
    analysed = [_Word(item, checker.romanize(item.word)) for item in words if re.fullmatch("[가-힣]+", item.word)]

    def liaison(text: str) -> bool:
        codes = [ord(c) - 0xAC00 for c in text]
        return any(a % 28 not in (0, 21) and (b // 28) // 21 == 11 for a, b in pairwise(codes))

    items = [
        _group_item(
            "Liaison: a final consonant moves to the next syllable",
            "When a syllable ends in a consonant and the next begins with the silent ㅇ, the consonant is said "
            "at the start of the next syllable.",
            [w for w in analysed if liaison(w.text)],
        ),
        _group_item(
            "Nasalisation and ㄹ assimilation",
            "A stop before ㄴ or ㅁ becomes a nasal (ㄱ→ㅇ, ㄷ→ㄴ, ㅂ→ㅁ) and ㄴ next to ㄹ becomes ㄹ; Revised "
            "Romanization writes the sound.",
            [w for w in analysed if assimilate(w.text) != w.text],
        ),
    ]
    return [i for i in items if i is not None]


_DERIVERS: dict[tuple[str, Category], Callable[[Sequence[VocabItem]], list[GeneratedItem]]] = {
    ("zh", Category.PRONUNCIATION): _zh_pronunciation,
    ("zh", Category.WRITING_SYSTEM): _zh_writing,
    ("ja", Category.PRONUNCIATION): _ja_pronunciation,
    ("ja", Category.WRITING_SYSTEM): _ja_writing,
    ("ko", Category.PRONUNCIATION): _ko_pronunciation,
}


def derive_items(category: Category, language: str, words: Sequence[VocabItem]) -> list[GeneratedItem]:
    """The items the dictionaries support for this category and language (none for the others)."""
    derive = _DERIVERS.get((language.lower().split("-")[0], category))
    return derive([w for w in words if w.kind is VocabKind.WORD]) if derive else []


class OfflineGenerator:
    """A `BatchGenerator` that asks no LLM: every item `derive_items` finds (they cost nothing, so the
    batch's target count, an LLM cost bound, does not cap them)."""

    model = OFFLINE_MODEL

    def generate_batch(
        self, spec: BatchSpec, words: Sequence[VocabItem], *, language: str, level: Level, run_id: str
    ) -> BatchResult:
        drafts = derive_items(spec.category, language, words)
        result = BatchResult(batch_id=spec.batch_id, items=[], usage=UsageTotals())
        if not drafts:
            return result
        provenance = Provenance(
            run_id=run_id, batch_id=spec.batch_id, model=OFFLINE_MODEL, prompt_version=OFFLINE_VERSION,
            generator="offline",
        )  # fmt: skip
        finished = finish_items(
            LearningItemBatch(items=drafts),
            words=words,
            language=language,
            level=level,
            category=spec.category,
            provenance=provenance,
        )
        result.items = finished.items
        result.dropped_duplicates = finished.dropped_duplicates
        return result

"""Japanese: readings checked in context by a morphological analyser, and offline pronunciation and
writing-system items.

SudachiPy with its small dictionary (UniDic-based) splits the text into words and reads each in context
(お金 okane, 水を飲みます mizu); pykakasi's compound dictionary reads runs of nouns the small dictionary
splits (日曜日 nichiyōbi, 三本 sanbon) and breaks ties between readings of one word (私 watashi). Ambiguous:
another reading the analyser's dictionary lists for the same written word with the same part of speech
(明日 myōnichi, 日本 nihon), except a lone kanji's Sino-Japanese readings, which only occur in compounds.

What counts as the same reading: kana or Hepburn romaji; long vowels (ō, ou, oo, ー) and m/n before
b, p, m are not told apart; the particles は, へ, を may be written wa, e, o.

Offline items. Pronunciation: long vowels, geminates (small っ), ん before b/p/m. Writing system:
kanji shared across words, katakana loanwords, okurigana of i-adjectives.

SudachiPy, pykakasi and jaconv (kana <-> romaji) are imported inside the functions that use them.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from itertools import accumulate

from havachat.languages.common import Language, ReadingCheck, Word, group_item
from havachat.models import Category, GeneratedItem, ReadingStatus, VocabItem

# --------------------------------------------------------------------------------------------------
# Reading checks
# --------------------------------------------------------------------------------------------------
_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]")
_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff]")
_PARTICLES = {"は": ("ha", "wa"), "へ": ("he", "e"), "を": ("wo", "o")}
_COMPOUND_POS = ("名詞", "接頭辞", "接尾辞")
_ON_SHAPED = re.compile(r"[ァ-ヴ][ャュョ]?[ンイウキクツチ]?")
"""A katakana reading shaped like a kanji's Sino-Japanese one: one mora, then maybe ン, イ, ウ, キ, ク, ツ or チ."""
_DICTIONARY_FIRST = ("固有名詞", "数詞")
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


_Token = tuple[str, str, tuple[str, ...]]
"""A word as the checker reads it: (surface, hiragana reading, part of speech)."""


class JapaneseChecker:
    def __init__(self) -> None:
        import pykakasi
        from sudachipy import Dictionary, SplitMode

        self._dictionary = Dictionary(dict="small")
        self._tokenizer = self._dictionary.create(SplitMode.C)
        self._kakasi = pykakasi.kakasi()
        self._lock = threading.Lock()  # a SudachiPy tokenizer is not to be used from two threads at once

    def tokens(self, text: str) -> list[_Token]:
        """The words of the text as the analyser reads them in context. A run of nouns that pykakasi's compound
        dictionary holds as one word (日曜日, 日本人) is read as that word, since the analyser's small dictionary
        splits it (日曜 + 日 hi); a trailing small っ moves to the word it doubles."""
        import jaconv

        with self._lock:
            tokens = [
                (m.surface(), jaconv.kata2hira(m.reading_form() or m.surface()), tuple(m.part_of_speech()))
                for m in self._tokenizer.tokenize(text)
                if m.surface().strip()
            ]
        merged: list[_Token] = []
        i = 0
        while i < len(tokens):
            end = i
            while end < len(tokens) and tokens[end][2][0] in _COMPOUND_POS:
                end += 1
            merged.extend(self._compounds(tokens[i:end]) if end > i else tokens[i : i + 1])
            i = max(end, i + 1)
        for i in range(len(merged) - 1):  # a trailing small っ doubles the next token's consonant
            if merged[i][1].endswith("っ"):
                merged[i] = (merged[i][0], merged[i][1][:-1], merged[i][2])
                merged[i + 1] = (merged[i + 1][0], "っ" + merged[i + 1][1], merged[i + 1][2])
        return merged

    def _compounds(self, run: list[_Token]) -> list[_Token]:
        """The run with every stretch of tokens that pykakasi reads as one dictionary word joined, and proper
        nouns and numerals read as pykakasi's word where it has one (三本 sanbon, not the name Mimoto; 六百
        roppyaku, where the analyser joins the digits' readings)."""
        starts = list(accumulate((len(surface) for surface, _, _ in run), initial=0))
        out: list[_Token] = []
        position = 0
        for word in self._kakasi.convert("".join(surface for surface, _, _ in run)):
            first, last = starts.index(position) if position in starts else -1, position + len(word["orig"])
            if (
                first >= 0
                and last in starts
                and (starts.index(last) - first > 1 or run[first][2][1] in _DICTIONARY_FIRST)
            ):
                out.append((word["orig"], word["hira"], run[first][2]))
            elif first >= 0 and last in starts:
                out.extend(run[first : starts.index(last)])
            else:
                return run
            position = last
        return out

    def romanize(self, text: str) -> str:
        return "".join(hira for _, hira, _ in self.tokens(text))

    def check(self, text: str, given: str) -> ReadingCheck | None:
        if not (_KANJI.search(text) or _KANA.search(text)) or re.search(r"[A-Za-z0-9]", text):
            return None
        tokens = [
            (surface, hira, pos, self._alternatives(surface, hira, pos)) for surface, hira, pos in self.tokens(text)
        ]
        written = _written_romaji(given)
        expected = " ".join(filter(None, (_letters(kana_to_romaji(hira)) for _, hira, _, _ in tokens)))
        likeliest = "".join(
            _pattern(surface, self._likeliest(surface, hira, known), pos) for surface, hira, pos, known in tokens
        )
        if re.fullmatch(likeliest, written):
            return ReadingCheck(ReadingStatus.OK, expected)
        known = "".join(_pattern(surface, known, pos) for surface, _, pos, known in tokens)
        status = ReadingStatus.AMBIGUOUS if re.fullmatch(known, written) else ReadingStatus.MISMATCH
        return ReadingCheck(status, expected)

    def _likeliest(self, surface: str, hira: str, known: list[str]) -> list[str]:
        """The analyser's reading, and pykakasi's for the same word when it is one the analyser's dictionary
        lists with the same part of speech (私 watashi beside watakushi, 明日 ashita beside asu)."""
        if len(known) < 2:
            return [hira]
        words = self._kakasi.convert(surface)
        return [hira, words[0]["hira"]] if len(words) == 1 and words[0]["hira"] in known else [hira]

    def _alternatives(self, surface: str, hira: str, pos: tuple[str, ...]) -> list[str]:
        """The token's reading and those of the dictionary's other entries for the same written word with the
        same part of speech, which context leaves open (日本 nihon/nippon); for a lone kanji, not its
        Sino-Japanese readings, which are bound ones (水 sui in 水曜日, 人 jin in 日本人)."""
        import jaconv

        if not _KANJI.search(surface):
            return [hira]
        with self._lock:
            entries = [(m.reading_form(), m.part_of_speech()[:2]) for m in self._dictionary.lookup(surface)]
        readings = [reading for reading, kind in entries if kind == pos[:2]]
        if len(surface) == 1:
            readings = [r for r in readings if not _ON_SHAPED.fullmatch(r)]
        return list(dict.fromkeys([hira, *(jaconv.kata2hira(r) for r in readings if r)]))


def _pattern(surface: str, readings: Iterable[str], pos: tuple[str, ...]) -> str:
    """A regex for the token written with any of `readings` (は, へ, を as particles may be wa, e, o)."""
    readings = list(readings)
    if len(surface) > 1 and surface[-1] in _PARTICLE_SOUNDS:  # こんにちは: the は ending said わ
        readings += [r[:-1] + _PARTICLE_SOUNDS[surface[-1]] for r in readings if r.endswith(surface[-1])]
    options = {_reading_regex(_letters(kana_to_romaji(r))) for r in readings}
    if surface in _PARTICLES and pos[0] == "助詞":
        options.update(_PARTICLES[surface])
    return "(?:" + "|".join(sorted(options)) + ")"


@cache
def checker() -> JapaneseChecker:
    """The Japanese checker, built once (SudachiPy and its dictionary are loaded here on first use)."""
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


_READ_AS_A_WHOLE = frozenset(
    "今日 明日 昨日 今朝 今年 今晩 一昨日 明後日 一人 二人 大人 一日 二日 二十日 二十歳 上手 下手 時計 眼鏡 果物 部屋 "  # noqa: SIM905
    "八百屋 お父さん お母さん 兄さん 姉さん 景色 博士 土産 お土産 田舎 迷子 浴衣 梅雨 紅葉 吹雪 真面目 息子 素人 玄人 "
    "足袋 行方 二人暮らし 一寸 五月雨 七夕 清水 仲人 日和 若人 相撲 乳母 海女 今際".split()
)
"""Common words whose reading belongs to the whole word, not to each kanji (熟字訓 jukujikun): 今日 きょう."""


def _analyse(words: Sequence[VocabItem]) -> list[tuple[Word, str]]:
    """Each word with its kana reading (the list's, else the dictionary's)."""
    found = []
    for item in words:
        kana = item.romanization if item.romanization and re.search(r"[\u3041-\u30ff]", item.romanization) else None
        kana = kana or checker().romanize(item.word)
        found.append((Word(item, kana_to_romaji(kana)), kana))
    return found


def _morpheme_romaji(word: Word, kana: str) -> list[str]:
    """The romaji of each morpheme of the word (a verb without its ending), so that two vowels meeting across
    morphemes (気に入り ki-ni-iri, 思う omo-u) are not taken for a long vowel."""
    tokens = checker().tokens(word.text)
    if "".join(hira for _, hira, _ in tokens) != kana:
        tokens = [(word.text, kana, ("動詞",) if "verb" in (word.item.pos or "") else ("名詞",))]
    return [kana_to_romaji(hira)[:-2] if pos[0] == "動詞" else kana_to_romaji(hira) for _, hira, pos in tokens]


def _with_kana(word: Word, analysed: Sequence[tuple[Word, str]]) -> str:
    kana = next((k for w, k in analysed if w is word), "")
    return f"{word.text} ({kana})" if kana and kana != word.text else word.text


def _pronunciation_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _analyse(words)
    morphemes = {word.text: _morpheme_romaji(word, kana) for word, kana in analysed}
    items: list[GeneratedItem | None] = []
    for macron, pattern, name in _LONG_VOWEL_GROUPS:
        group = [
            word
            for word, kana in analysed
            if "ー" not in kana and any(pattern.search(part) for part in morphemes[word.text])
        ]
        items.append(
            group_item(
                f"Long vowel {macron} ({name})",
                f"{', '.join(_with_kana(w, analysed) for w in group[:4])} hold the vowel for two beats "
                f"({macron} in Hepburn romaji, two vowels in kana). Vowel length changes meaning, so hold it fully.",
                group,
            )
        )
    items.append(
        group_item(
            "Long vowels in katakana: ー",
            "Katakana words mark a long vowel with ー: hold the vowel before it for an extra beat.",
            [w for w, _ in analysed if "ー" in w.text],
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
        if word.text in _READ_AS_A_WHOLE:
            continue
        for char in dict.fromkeys(_BASIC_KANJI.findall(word.text)):
            sharing[char].append(word)
    for char, group in sorted(sharing.items(), key=lambda kv: -len(kv[1])):
        items.append(
            group_item(
                f"The kanji {char}",
                f"{char} is written in {', '.join(_with_kana(w, analysed) for w in group[:4])}. A kanji often has "
                "more than one reading; learn each with its word.",
                group,
            )
        )
    whole = [w for w, _ in analysed if w.text in _READ_AS_A_WHOLE]
    items.append(
        group_item(
            "Words read as a whole (jukujikun)",
            f"{', '.join(_with_kana(w, analysed) for w in whole[:4])} are read as whole words: the reading does "
            "not split into readings of their kanji, so learn it with the word.",
            whole,
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
            "An i-adjective is written with kanji for its stem and kana (okurigana) for the rest, which always ends "
            "in い; the kana part changes when the adjective inflects (青い, 青くない; 新しい, 新しくない).",
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

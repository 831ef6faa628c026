"""Mandarin Chinese: pinyin checked against pypinyin, and offline pronunciation and writing-system items.

Readings in context: pypinyin's phrase dictionary fixes a character's reading inside a phrase (银行 háng,
首都 dū); a heteronym standing alone is read from its neighbours where textbooks do (都 dōu, 还 hái unless
giving back, 得 děi after a subject and de after a verb, 很长 cháng, 了 le) and is "ambiguous" only when
meaning alone decides (行 xíng/háng). 不 is bù, or bú before a fourth tone; 一 is yī, or as said before
another syllable (yí before a fourth tone, yì before the others), never in ordinals (第一 dì yī).

What counts as the same reading: tone marks and tone numbers (5 or 0 = neutral), case, spacing,
apostrophes, ü/v and erhua (哪儿 as nǎr or nǎ'er) are normalised away. Third tone before third tone may
be written as said (ní hǎo). A neutral tone is accepted on any syllable but the first of a run of
characters (dictionaries write 朋友 péngyou where pypinyin says yǒu), and a syllable pypinyin makes
neutral may carry its citation tone. Text with Latin letters or digits is not checked.

Offline items. Pronunciation: tone pairs of the two-syllable words, third-tone sandhi (你好), 不 and 一
sandhi with the list's own words (不去 bú qù, 一个 yí gè), neutral-tone words (grouped by reduplication
and shared suffix), characters read two ways in the list (觉 in 睡觉 / 觉得). Writing system:
characters shared across words.

pypinyin is imported inside the functions that use it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import pairwise

from havachat.languages.common import Language, ReadingCheck, Word, gloss, group_item, offline_item
from havachat.models import Category, Example, GeneratedItem, ReadingStatus, VocabItem

# --------------------------------------------------------------------------------------------------
# Reading checks
# --------------------------------------------------------------------------------------------------
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_UNCHECKABLE = re.compile(r"[A-Za-z0-9\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_TONE_MARKS = {"\u0304": 1, "\u0301": 2, "\u030c": 3, "\u0300": 4}
_DIAERESIS = "\u0308"
_YI = ("yi1", "yi2", "yi4")
_NUMERALS = set("第〇零一二三四五六七八九十百千万亿")
_ORDINAL_NEXT = set("月号楼")
_PRONOUNS = set("我你您他她它")
_OPEN_HETERONYMS = set("行长还好了为重发觉教种只少便空数处调干乐和看得都地的着过要大分会相当中几差传假间将角结解落没朝")
"""Characters whose reading, standing alone (not in a dictionary phrase), is decided by meaning: other readings
are 'ambiguous' unless `_decided_alone` settles them from the neighbours."""
_PHRASE_FIXES = {"大夫": [["dài"], ["fu"]]}
"""Phrases pypinyin reads in a sense learners rarely meet (大夫 dàfū, an ancient official; the doctor is dàifu)."""
_SEVERITY = {ReadingStatus.OK: 0, ReadingStatus.AMBIGUOUS: 1, ReadingStatus.MISMATCH: 2}


def _worst(statuses: Iterable[ReadingStatus]) -> ReadingStatus:
    return max(statuses, key=_SEVERITY.__getitem__, default=ReadingStatus.OK)


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


def _decided_alone(char: str, before: str, after: str) -> str | None:
    """The reading textbooks give a lone heteronym in this context, or None: not decided by its neighbours."""
    if char == "都":  # dōu "all, already"; dū only in words (首都, 成都)
        return "dou1"
    if char == "得" and before:  # děi "must" before a verb after its subject; de after a verb (跑得快)
        return "dei3" if after and (before in _PRONOUNS or before in "们就也还都") else "de5"
    if char == "还" and after not in _PRONOUNS and after != "给":  # hái "still, also"; huán "give back" (还你)
        return "hai2"
    if char == "长" and before and before in "很太真最更多好":  # an adjective after a degree word: cháng
        return "chang2"
    if char == "了":  # le, but liǎo in 吃不了 / 做得了
        return "liao3" if before and before in "不得" else "le5"
    return None


@dataclass(frozen=True)
class _Syllable:
    """One character in context: its reading, every reading pypinyin knows, those accepted and those left open."""

    char: str
    reading: str
    known: list[str]
    accepted: set[str]
    open_readings: set[str]
    first_in_run: bool

    def status(self, letters: str, tone: int | None) -> ReadingStatus:
        """How the written syllable compares (tone None: no tones written anywhere, compare letters only)."""
        if self.char == "儿" and letters == "r":  # erhua written on the previous syllable
            return ReadingStatus.OK
        reading_letters = _split_tone(self.reading)[0]
        if tone is None:
            if letters == reading_letters:
                return ReadingStatus.OK
            opened = any(_split_tone(r)[0] == letters for r in self.open_readings)
            return ReadingStatus.AMBIGUOUS if opened else ReadingStatus.MISMATCH
        if f"{letters}{tone}" in self.accepted or (letters == reading_letters and tone == 5 and not self.first_in_run):
            return ReadingStatus.OK
        if f"{letters}{tone}" in self.open_readings:
            return ReadingStatus.AMBIGUOUS
        return ReadingStatus.MISMATCH


def _split_tone(syllable: str) -> tuple[str, int]:
    """'hao3' -> ('hao', 3); pypinyin's TONE3 style with neutral_tone_with_five always ends in a digit."""
    return (syllable[:-1], int(syllable[-1])) if syllable[-1:].isdigit() else (syllable, 5)


class ChineseChecker:
    def __init__(self) -> None:
        import pypinyin

        pypinyin.load_phrases_dict(_PHRASE_FIXES)

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
        syllables = [s for run in _HAN.findall(text) for s in self._in_context(run)]
        expected = self._display([s.reading for s in syllables])
        written = _Pinyin.parse(given)
        spans = self._align(
            [s.char for s in syllables], [s.reading for s in syllables], [s.known for s in syllables], written
        )
        if spans is None:
            return ReadingCheck(ReadingStatus.MISMATCH, expected)
        toned = bool(written.tones)
        statuses = [
            s.status(written.letters[start:end], (written.tone_in(start, end) or 5) if toned else None)
            for s, (start, end) in zip(syllables, spans, strict=True)
        ]
        return ReadingCheck(_worst(statuses), expected)

    def _in_context(self, run: str) -> list[_Syllable]:
        """Each character of a run of Han characters with its reading in context and the readings it allows."""
        from pypinyin.constants import PHRASES_DICT
        from pypinyin.seg.mmseg import seg

        primary = [r[0] for r in self._readings(run, heteronym=False)]
        known = self._readings(run, heteronym=True)
        in_phrase = [len(word) > 1 and word in PHRASES_DICT for word in seg.cut(run) for _ in word]
        syllables = []
        for i, char in enumerate(run):
            before, after = run[i - 1] if i else "", run[i + 1] if i + 1 < len(run) else ""
            decided = None if in_phrase[i] else _decided_alone(char, before, after)
            reading = decided or primary[i]
            accepted = {reading}
            next_tone = _split_tone(primary[i + 1])[1] if after else None
            if next_tone == 5:
                next_tone = _split_tone(self._citation(after))[1]
            if char == "不" and reading in ("bu4", "bu2"):  # bù, said bú before a fourth tone
                accepted = {"bu4", "bu2"} if next_tone == 4 else {"bu4"}
            elif char == "一" and reading in _YI and after:  # yī, or as said; ordinals stay yī (一月, 第一)
                ordinal = before in _NUMERALS or after in _ORDINAL_NEXT
                reading = "yi1" if ordinal else "yi2" if next_tone == 4 else "yi4"
                accepted = {"yi1", reading}
            elif _split_tone(reading)[1] == 3 and next_tone == 3:
                accepted.add(reading[:-1] + "2")
            if _split_tone(reading)[1] == 5:
                accepted.add(self._citation(char))
            open_readings = (
                set(known[i]) if decided is None and not in_phrase[i] and char in _OPEN_HETERONYMS else set()
            )
            syllables.append(_Syllable(char, reading, known[i], accepted, open_readings, i == 0))
        return syllables

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


@cache
def checker() -> ChineseChecker:
    """The Chinese checker, built once (pypinyin is imported here on first use)."""
    return ChineseChecker()


# --------------------------------------------------------------------------------------------------
# Offline items
# --------------------------------------------------------------------------------------------------
_TONE_NAMES = {1: "high level first", 2: "rising second", 3: "low dipping third", 4: "falling fourth", 5: "neutral"}

# Real phrases for the tone changes, each shown when the list has its partner word or the phrase itself.
_BU_PHRASES = {
    "是": ("不是", "is not; no"),
    "对": ("不对", "not right; wrong"),
    "要": ("不要", "don't want; don't"),
    "去": ("不去", "won't go"),
    "会": ("不会", "can't; won't"),
    "在": ("不在", "not in; not there"),
    "用": ("不用", "no need to"),
    "客气": ("不客气", "you're welcome"),
    "错": ("不错", "not bad; pretty good"),
    "大": ("不大", "not big"),
    "看": ("不看", "don't watch"),
    "爱": ("不爱", "don't love"),
    "谢": ("不谢", "don't mention it"),
    "够": ("不够", "not enough"),
    "过": ("不过", "but; however"),
    "但": ("不但", "not only"),
    "怕": ("不怕", "not afraid"),
    "太": ("不太", "not very"),
    "贵": ("不贵", "not expensive"),
    "累": ("不累", "not tired"),
    "热": ("不热", "not hot"),
    "饿": ("不饿", "not hungry"),
    "认识": ("不认识", "don't know (someone)"),
    "必": ("不必", "needn't"),
    "好": ("不好", "not good"),
    "吃": ("不吃", "don't eat"),
    "喝": ("不喝", "don't drink"),
    "来": ("不来", "won't come"),
    "能": ("不能", "cannot"),
    "想": ("不想", "don't want to"),
    "知道": ("不知道", "don't know"),
    "行": ("不行", "no way; won't do"),
    "多": ("不多", "not many"),
    "少": ("不少", "quite a few"),
    "同": ("不同", "different"),
    "忙": ("不忙", "not busy"),
    "冷": ("不冷", "not cold"),
    "买": ("不买", "don't buy"),
    "喜欢": ("不喜欢", "don't like"),
    "高兴": ("不高兴", "unhappy"),
    "说": ("不说", "don't say"),
    "听": ("不听", "don't listen"),
    "远": ("不远", "not far"),
    "难": ("不难", "not difficult"),
}
"""不 + a word; never 有, which 没 negates (没有)."""
_YI_PHRASES = {
    "个": ("一个人", "one person"),
    "块": ("一块钱", "one yuan"),
    "次": ("一次", "once"),
    "下": ("一下", "a bit; briefly"),
    "样": ("一样", "the same"),
    "定": ("一定", "certainly"),
    "共": ("一共", "altogether"),
    "半": ("一半", "half"),
    "件": ("一件衣服", "a piece of clothing"),
    "位": ("一位老师", "a teacher (polite)"),
    "辆": ("一辆车", "a car"),
    "会儿": ("一会儿", "a moment"),
    "万": ("一万", "ten thousand"),
    "切": ("一切", "everything"),
    "本": ("一本书", "a book"),
    "杯": ("一杯水", "a glass of water"),
    "张": ("一张纸", "a sheet of paper"),
    "起": ("一起", "together"),
    "些": ("一些", "some"),
    "点儿": ("一点儿", "a little"),
    "天": ("一天", "one day"),
    "年": ("一年", "one year"),
    "口": ("一口", "a mouthful"),
    "只": ("一只猫", "a cat"),
    "条": ("一条鱼", "a fish"),
    "双": ("一双鞋", "a pair of shoes"),
    "直": ("一直", "straight on; all along"),
    "般": ("一般", "usually; ordinary"),
    "百": ("一百", "one hundred"),
    "千": ("一千", "one thousand"),
    "边": ("一边", "one side; while"),
}
"""一 + a measure word or in a set word, where it changes tone (never in ordinals or counting: 一月, 第一)."""
_THIRD_TONE_PHRASES = {
    ("你", "好"): "hello",
    ("很", "好"): "very good",
    ("很", "小"): "very small",
    ("很", "冷"): "very cold",
    ("很", "远"): "very far",
    ("很", "少"): "seldom; very few",
    ("很", "久"): "a long time",
    ("我", "有"): "I have",
    ("我", "想"): "I'd like to",
    ("也", "好"): "that's fine too",
    ("你", "想"): "you'd like to",
}
_PARTICLES = frozenset("的了着过么们吗呢吧啊呀嘛得地")
_TONED_ZI = frozenset(f"{c}子" for c in "电男女太天王公孔原分中质离粒量因君弟才游亲卵精瓜莲棋赤孝浪臣学")
"""Words ending in 子 that keep its third tone (电子 diànzǐ, 男子 nánzǐ): not neutral-tone examples."""


def _pinyin(letters: str, tone: int) -> str:
    from pypinyin.contrib.tone_convert import to_tone

    return str(to_tone(f"{letters.replace('v', 'ü')}{tone if tone != 5 else ''}"))


@dataclass(frozen=True)
class _ChineseWord(Word):
    syllables: tuple[tuple[str, int], ...]

    @property
    def tones(self) -> tuple[int, ...]:
        return tuple(t for _, t in self.syllables)


def _analyse(words: Sequence[VocabItem]) -> list[_ChineseWord]:
    """The list's all-Han words with their syllables; a word whose written pinyin the dictionary reads with
    other letters (大夫 written dàfū, read dàifu) is left out: its examples would contradict its item."""
    found = []
    for item in words:
        syllables = checker().syllables(item.word, item.romanization)
        if syllables is None or (item.romanization and not _same_letters(item.word, syllables, item.romanization)):
            continue
        reading = item.romanization or "".join(
            ("'" if i and letters[0] in "aeo" else "") + _pinyin(letters, tone)  # 西安 xī'ān
            for i, (letters, tone) in enumerate(syllables)
        )
        found.append(_ChineseWord(item, reading, tuple(syllables)))
    return found


def _same_letters(word: str, syllables: Sequence[tuple[str, int]], written: str) -> bool:
    said, given = "".join(letters for letters, _ in syllables), _Pinyin.parse(written).letters
    return said == given or (word.endswith("儿") and said.removesuffix("er") + "r" == given)  # erhua: 哪儿 nǎr


def _said(text: str) -> list[tuple[str, int]]:
    """The dictionary syllables of a phrase (not from the list)."""
    return checker().syllables(text) or []


def _pronunciation_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _analyse(words)
    by_text = {w.text: w for w in analysed}
    # pypinyin knows no neutral tones (谢谢 xiè xiè): tones of longer words come from a written reading only.
    read = [w for w in analysed if w.item.romanization or len(w.text) == 1]
    items: list[GeneratedItem | None] = [
        _third_tone_sandhi(read, by_text),
        _tone_change("不", _BU_PHRASES, by_text),
        _tone_change("一", _YI_PHRASES, by_text),
        *_neutral_tone(read),
        *_heteronyms(read),
    ]
    pairs: dict[tuple[int, int], list[_ChineseWord]] = defaultdict(list)
    for w in read:
        if len(w.tones) == 2 and 5 not in w.tones and w.tones != (3, 3) and not set(w.text) & {"不", "一", "儿"}:
            pairs[(w.tones[0], w.tones[1])].append(w)
    for (first, second), group in sorted(pairs.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        half_third = " Before a non-third tone the third tone stays low and does not rise (a half third)."
        items.append(
            group_item(
                f"Tone pair {first}-{second}: {_TONE_NAMES[first]} + {_TONE_NAMES[second]}",
                f"In {', '.join(w.text for w in group[:4])} a {_TONE_NAMES[first]} tone is followed by a "
                f"{_TONE_NAMES[second]} tone; practise the pair as one contour." + (half_third if first == 3 else ""),
                group,
            )
        )
    return [i for i in items if i is not None]


def _third_tone_sandhi(analysed: Sequence[_ChineseWord], by_text: dict[str, _ChineseWord]) -> GeneratedItem | None:
    """Words with two third tones in a row, and real phrases of two listed third-tone words (你好, 很好)."""
    shown: list[tuple[Example | None, list[str]]] = [
        (w.example(), [w.text]) for w in analysed if any(a == b == 3 for a, b in pairwise(w.tones))
    ]
    for (first, second), english in _THIRD_TONE_PHRASES.items():
        if first in by_text and second in by_text and by_text[first].tones == by_text[second].tones == (3,):
            reading = f"{_pinyin(*by_text[first].syllables[0])} {_pinyin(*by_text[second].syllables[0])}"
            shown.append((Example(text=first + second, romanization=reading, translation=english), [first, second]))
    glossed = [(example, words) for example, words in shown if example is not None][:3]
    if not glossed:
        return None
    return offline_item(
        "Third-tone sandhi: 3 + 3 is said 2 + 3",
        f"When two third tones meet, the first one rises like a second tone: {glossed[0][0].text} is written "
        "with two third tones but its first syllable is said rising. Pinyin keeps the written third tone.",
        [example for example, _ in glossed],
        [word for _, words in glossed for word in words],
    )


def _tone_change(
    char: str, phrases: Mapping[str, tuple[str, str]], by_text: dict[str, _ChineseWord]
) -> GeneratedItem | None:
    """不 or 一 in real phrases with the list's words (the phrase, or 不/一 and its partner): rising before a
    fourth tone, its other tone elsewhere."""
    changed: list[tuple[Example, list[str]]] = []
    plain: list[tuple[Example, list[str]]] = []
    for partner, (text, english) in phrases.items():
        listed = [w for w in (char, partner, text) if w in by_text]
        syllables = _said(text)
        if (
            not (text in by_text or {char, partner} <= set(listed))
            or len(syllables) != len(text)
            or syllables[1][1] == 5
        ):
            continue
        fourth = syllables[1][1] == 4
        said = "yí" if char == "一" and fourth else "yì" if char == "一" else "bú" if fourth else "bù"
        reading = ("" if text in by_text else " ").join([said, *(_pinyin(*s) for s in syllables[1:])])  # a word: joined
        (changed if fourth else plain).append((Example(text=text, romanization=reading, translation=english), listed))
    shown = changed[:2] + plain[:1]
    if len(shown) < 2 or not changed:
        return None
    if char == "一":
        rule = "一 is yī alone, in counting and in ordinals (第一), yí before a fourth tone and yì before the others"
        title = "Tone change of 一: yí before a fourth tone, yì before other tones"
    else:
        rule = "不 is bù, but bú before a fourth tone"
        title = "Tone change of 不: bú before a fourth tone"
    return offline_item(
        title,
        f"{rule}. The change is said, and pinyin in textbooks usually writes it.",
        [example for example, _ in shown],
        [word for _, words in shown for word in words],
    )


def _neutral_tone(analysed: Sequence[_ChineseWord]) -> list[GeneratedItem | None]:
    neutral = [w for w in analysed if len(w.tones) > 1 and w.tones[-1] == 5 and w.text not in _TONED_ZI]
    doubled = [w for w in neutral if len(w.text) == 2 and w.text[0] == w.text[1]]
    items: list[GeneratedItem | None] = [
        group_item(
            "Neutral tone in doubled words",
            f"In doubled words such as {', '.join(w.text for w in doubled[:3])} the second syllable loses its "
            "tone: it is short and light, and pinyin writes it without a tone mark.",
            doubled,
        )
    ]
    by_suffix: dict[str, list[_ChineseWord]] = defaultdict(list)
    for w in neutral:
        if w not in doubled:
            by_suffix[w.text[-1]].append(w)
    for suffix, group in sorted(by_suffix.items(), key=lambda kv: -len(kv[1])):
        letters = group[0].syllables[-1][0]
        items.append(
            group_item(
                f"Neutral-tone ending {suffix} ({letters})",
                f"{suffix} at the end of {', '.join(w.text for w in group[:4])} is toneless: say it short and "
                "light, at a pitch set by the tone before it.",
                group,
            )
        )
    return items


def _heteronyms(analysed: Sequence[_ChineseWord]) -> list[GeneratedItem | None]:
    readings: dict[str, dict[str, list[_ChineseWord]]] = defaultdict(lambda: defaultdict(list))
    for w in analysed:
        for char, (letters, tone) in zip(w.text, w.syllables, strict=True):
            if char not in "不一" and tone != 5:
                readings[char][_pinyin(letters, tone)].append(w)
    items: list[GeneratedItem | None] = []
    for char, by_reading in readings.items():
        if len(by_reading) < 2:
            continue
        ordered = sorted(by_reading.items(), key=lambda kv: -len(kv[1]))
        items.append(
            offline_item(
                f"{char} has more than one reading",
                f"The character {char} is read {' or '.join(r for r, _ in ordered)} depending on the word: "
                + "; ".join(f"{r} in {', '.join(w.text for w in g[:3])}" for r, g in ordered)
                + ". Learn the reading with the word.",
                [next((w.example() for w in g if w.example()), None) for _, g in ordered],
                [w.text for _, group in ordered for w in group],
            )
        )
    return items


def _character_reading(char: str) -> str:
    """The reading a dictionary gives a character on its own: toned unless it is a particle (子 zǐ, 么 me)."""
    readings = ChineseChecker._readings(char, heteronym=True)[0]
    toned = [r for r in readings if _split_tone(r)[1] != 5]
    chosen = toned[0] if toned and char not in _PARTICLES else readings[0]
    return _pinyin(*_split_tone(chosen))


def _erhua(word: _ChineseWord) -> bool:
    """Whether the word ends in the erhua suffix 儿 (哪儿 nǎr), not the syllable ér (女儿 nǚ'ér)."""
    return word.text.endswith("儿") and len(word.text) > 1 and re.search(r"[^eēéěè]r$", word.reading) is not None


def _writing_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _analyse(words)
    by_text = {w.text: w for w in analysed}
    sharing: dict[str, list[_ChineseWord]] = defaultdict(list)
    for w in analysed:
        for char in dict.fromkeys(w.text):
            if not (char == "儿" and _erhua(w)):
                sharing[char].append(w)
    items = []
    for char, group in sorted(sharing.items(), key=lambda kv: -len(kv[1])):
        compounds = [w for w in group if len(w.text) > 1]
        if len(group) < 2 or not compounds:
            continue
        alone = by_text.get(char)
        meaning = gloss(alone.item) if alone else None
        said = _pinyin(*alone.syllables[0]) if alone else _character_reading(char)
        glossed = sorted(compounds, key=lambda w: gloss(w.item) is None)
        items.append(
            offline_item(
                f"The character {char} ({said})",
                f"{char} ({said}{', ' + meaning if meaning else ''}) is the same character in "
                f"{', '.join(w.text for w in glossed[:6])}: recognising it helps to read and remember these words.",
                [alone.example() if alone else None, *(w.example() for w in glossed)],
                [w.text for w in ([alone] if alone else []) + glossed],
            )
        )
    return [i for i in items if i is not None]


# What prompts ask the model to focus on, per category.
FOCUS: Mapping[Category, str] = {
    Category.PRONUNCIATION: (
        "Focus on the four tones and the neutral tone; tone sandhi: a third tone before another third "
        "tone becomes second (你好 nǐ hǎo is said ní hǎo), 不 bù becomes bú before a fourth tone, 一 yī "
        "becomes yí before a fourth tone and yì before the other tones (but stays yī when counting or "
        "at the end of a word); the half third tone; initials learners confuse (zh/z/j, ch/c/q, sh/s/x, "
        "r, aspirated p/t/k versus b/d/g) and finals (ü, -n versus -ng, e); erhua (儿化) in northern "
        "speech. In the pinyin, follow textbook convention (dictionary tones, "
        "except that the changed tones of 不 and 一 are usually written) and describe other spoken tone "
        "changes in the explanation."
    ),
    Category.WRITING_SYSTEM: (
        "Focus on radicals and components (semantic and phonetic), how a character is built, stroke "
        "order basics, characters that look alike, and simplified versus traditional forms (give the "
        "traditional form when it differs). Teach simplified characters in the examples."
    ),
    Category.PATTERN: (
        "Focus on measure words (个, 本, 杯, 口, ...) with the listed nouns, word order (time and place "
        "before the verb), 的, 了, 吗 and other particles, 是 sentences, 有/没有, and question words "
        "staying in place."
    ),
    Category.IDIOM: (
        "Focus on set phrases and common collocations of the listed words; chengyu only when they are "
        "within reach of the level."
    ),
    Category.SOCIOLINGUISTIC: (
        "Focus on 你 versus 您, forms of address and kinship terms, and mainland versus Taiwan usage."
    ),
    Category.LITERACY: (
        "Focus on reading characters in signs, menus and messages, full-width punctuation, and "
        "guessing a word's meaning from its characters."
    ),
}


LANGUAGE = Language(
    code="zh",
    name="Mandarin Chinese",
    romanization="Hanyu Pinyin with tone marks",
    focus=FOCUS,
    character_script=True,
    checker=checker,
    offline_items={Category.PRONUNCIATION: _pronunciation_items, Category.WRITING_SYSTEM: _writing_items},
)

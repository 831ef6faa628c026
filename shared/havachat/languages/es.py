"""Spanish: offline pronunciation and writing-system items from the spelling rules, with no dictionary.

Spanish spelling says where the stress falls, so the rules are enough: a word is split into syllables
(`syllables`: one consonant goes with the next vowel, pr/bl-type clusters stay together, ch/ll/rr are
one sound, i and u without an accent join the next or last vowel in a diphthong, í and ú stand alone),
its stressed syllable is the one with a written accent, else the next-to-last when it ends in a vowel,
n or s, else the last.

Offline items. Pronunciation: the two default stress rules, diphthongs, the silent h, ñ, the trilled rr
and the silent u of que/qui/gue/gui. Writing system: when the written accent is needed (stressed last
syllable ending in a vowel, n or s; next-to-last syllable ending in another consonant; always three from
the end), the accent that splits a diphthong (día), the accent that tells two words apart (tú/tu) and
the accent of question words. No reading checker: Spanish is written in Latin letters.

Why rules and not a hyphenation library: pyphen's Spanish patterns (6.3 MB with every language) split
for typesetting, not for speech: they never split a hiatus or leave one letter alone (día, pa-ís, le-er,
a-mi-go and pin-güi-no come out día, país, leer, ami-go, pin-güino), while the syllable rules above are
short and regular.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from havachat.languages.common import Language, Word, group_item, offline_item
from havachat.models import Category, Example, GeneratedItem, VocabItem

# --------------------------------------------------------------------------------------------------
# Syllables and stress
# --------------------------------------------------------------------------------------------------
_STRONG = set("aeoáéíóú")  # í and ú with an accent never join another vowel
_WEAK = set("iuü")
_VOWELS = _STRONG | _WEAK
_ACCENTED = set("áéíóú")
_CLUSTERS = {"pr", "br", "tr", "dr", "cr", "gr", "fr", "pl", "bl", "cl", "gl", "fl", "kr", "kl"}
_UNITS = re.compile(r"ch|ll|rr|qu(?=[eéií])|gu(?=[eéií])|[^\W\d_]", re.IGNORECASE)
_ARTICLE = re.compile(r"^(?:el|la|los|las|un|una|unos|unas)\s+", re.IGNORECASE)
_LETTERS = re.compile(r"[a-záéíóúüñ]+")
_SILENT_U = re.compile(r"(?<=[qg])u(?=[eéií])")


def _is_vowel(unit: str, position: int, units: Sequence[str]) -> bool:
    """A vowel letter, or y at the end of a word (hoy, muy) or standing alone."""
    if unit in _VOWELS:
        return True
    return unit == "y" and position == len(units) - 1 and len(units) > 1


def syllables(word: str) -> list[str]:
    """The syllables of one lower-case Spanish word (ca-sa, can-ción, dí-a, ciu-dad, cons-truir)."""
    units = _UNITS.findall(word)
    vowel = [_is_vowel(u, i, units) for i, u in enumerate(units)]
    # Vowels side by side share a syllable (a diphthong) unless both are strong: a, e, o, or an accented í, ú.
    nuclei: list[list[int]] = []
    for i, unit in enumerate(units):
        if not vowel[i]:
            continue
        follows_vowel = i > 0 and vowel[i - 1]
        if follows_vowel and nuclei and not (units[i - 1] in _STRONG and unit in _STRONG):
            nuclei[-1].append(i)
        else:
            nuclei.append([i])
    if not nuclei:
        return [word]
    cuts = []
    for before, after in pairwise(nuclei):
        consonants = list(range(before[-1] + 1, after[0]))
        if len(consonants) <= 1:
            cuts.append(before[-1] + 1)
        elif "".join(units[c] for c in consonants[-2:]) in _CLUSTERS:
            cuts.append(consonants[-2])
        else:
            cuts.append(consonants[-1])
    bounds = [0, *cuts, len(units)]
    return ["".join(units[a:b]) for a, b in pairwise(bounds)]


def stressed(parts: Sequence[str]) -> int:
    """The index of the stressed syllable: the one with a written accent, else by the word's last letter."""
    for i, part in enumerate(parts):
        if set(part) & _ACCENTED:
            return i
    if len(parts) > 1 and parts[-1][-1] in "aeiouns":
        return len(parts) - 2
    return len(parts) - 1


@dataclass(frozen=True)
class _SpanishWord(Word):
    word: str  # the word analysed: lower case, without an article or punctuation
    parts: tuple[str, ...]
    stress: int

    @property
    def from_end(self) -> int:
        """1 for the last syllable, 2 for the next-to-last, 3 for the one before."""
        return len(self.parts) - self.stress

    @property
    def accented(self) -> bool:
        return bool(set(self.word) & _ACCENTED)


def _reading(parts: Sequence[str], stress: int) -> str:
    """Syllables with the stressed one in capitals: ca-SA is written casa and said with stress on ca."""
    return "-".join(p.upper() if i == stress else p for i, p in enumerate(parts))


def _analyse(words: Sequence[VocabItem]) -> list[_SpanishWord]:
    found = []
    for item in words:
        text = unicodedata.normalize("NFC", _ARTICLE.sub("", item.word.strip())).lower()
        letters = _LETTERS.findall(text)
        if len(letters) != 1:  # phrases (por favor) are left out
            continue
        parts = syllables(letters[0])
        stress = stressed(parts)
        found.append(_SpanishWord(item, _reading(parts, stress), letters[0], tuple(parts), stress))
    return found


# --------------------------------------------------------------------------------------------------
# Offline items
# --------------------------------------------------------------------------------------------------
def _pronunciation_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _analyse(words)
    several = [w for w in analysed if len(w.parts) > 1]
    letters = [
        ("The h is silent", "The letter h is never said: hola is said ola, and ahora a-o-ra.", r"h(?<!ch)"),
        ("The letter ñ", "ñ is its own letter, said like ny in canyon (año, mañana); n and ñ make different "
         "words.", "ñ"),
        ("The trilled rr", "rr, and r at the start of a word or after n, l or s, is a trill of several taps; "
         "a single r between vowels is one tap (pero, perro).", r"rr|^r|(?<=[nls])r"),
        ("Silent u in que, qui, gue, gui", "After q, and after g before e or i, the u is not said: que is ke, "
         "guitarra is gitarra. With two dots (ü: pingüino) it is said.", r"qu|gu(?=[eéií])"),
    ]  # fmt: skip
    items = [
        group_item(
            "Stress on the next-to-last syllable: words ending in a vowel, n or s",
            "Without a written accent, a word ending in a vowel, n or s is stressed on its next-to-last "
            "syllable (palabra llana): " + ", ".join(w.reading for w in _default(several, 2)[:3]) + ".",
            _default(several, 2),
        ),
        group_item(
            "Stress on the last syllable: words ending in another consonant",
            "Without a written accent, a word ending in a consonant other than n or s is stressed on its last "
            "syllable (palabra aguda): " + ", ".join(w.reading for w in _default(several, 1)[:3]) + ".",
            _default(several, 1),
        ),
        group_item(
            "Diphthongs: i and u join the vowel next to them",
            "An unaccented i or u next to another vowel is said in the same syllable, as a glide (bue-no, "
            "ciu-dad): " + ", ".join(w.reading for w in _diphthongs(analysed)[:3]) + ".",
            _diphthongs(analysed),
        ),
        *(
            group_item(title, explanation, [w for w in analysed if re.search(pattern, w.word)])
            for title, explanation, pattern in letters
        ),
    ]
    return [i for i in items if i is not None]


def _default(words: Sequence[_SpanishWord], from_end: int) -> list[_SpanishWord]:
    """Words without a written accent stressed `from_end` syllables from the end, as the rule says."""
    return [w for w in words if not w.accented and w.from_end == from_end]


def _diphthongs(words: Sequence[_SpanishWord]) -> list[_SpanishWord]:
    return [w for w in words if any(re.search(r"[aeiou][iuy]|[iuü][aeiouáéó]", _SILENT_U.sub("", p)) for p in w.parts)]


# Pairs told apart only by the written accent (tilde diacrítica): each word's meaning and a short phrase with it.
_DIACRITIC_PAIRS = {
    "tú": (("you", "¿Y tú?", "And you?"), ("tu", "your", "tu casa", "your house")),
    "él": (("he", "Él es mi hermano.", "He is my brother."), ("el", "the", "el libro", "the book")),
    "sí": (("yes", "Sí, gracias.", "Yes, thank you."), ("si", "if", "si quieres", "if you want")),
    "mí": (("me", "para mí", "for me"), ("mi", "my", "mi casa", "my house")),
    "sé": (("I know", "No sé.", "I don't know."), ("se", "oneself", "Se llama Ana.", "Her name is Ana.")),
    "té": (("tea", "un té", "a tea"), ("te", "you, as object", "Te quiero.", "I love you.")),
}
_QUESTION_WORDS = {
    "qué": ("¿Qué es?", "What is it?"),
    "cómo": ("¿Cómo estás?", "How are you?"),
    "dónde": ("¿Dónde está?", "Where is it?"),
    "cuándo": ("¿Cuándo?", "When?"),
    "cuánto": ("¿Cuánto cuesta?", "How much is it?"),
    "quién": ("¿Quién es?", "Who is it?"),
    "cuál": ("¿Cuál?", "Which one?"),
    "por qué": ("¿Por qué?", "Why?"),
}


def _writing_items(words: Sequence[VocabItem]) -> list[GeneratedItem]:
    analysed = _analyse(words)
    accented = [w for w in analysed if w.accented and len(w.parts) > 1]
    hiatus = [w for w in accented if re.search("[aeo]h?[íú]|[íú]h?[aeo]", w.word)]
    regular = [w for w in accented if w not in hiatus and w.stress != stressed(_unaccented(w.parts))]
    items: list[GeneratedItem | None] = [
        group_item(
            "Written accent on the last syllable: words ending in a vowel, n or s",
            "A word stressed on its last syllable carries a written accent when it ends in a vowel, n or s "
            "(café, canción, inglés), because the default rule would put the stress one syllable earlier.",
            [w for w in regular if w.from_end == 1],
        ),
        group_item(
            "Written accent on the next-to-last syllable: words ending in another consonant",
            "A word stressed on its next-to-last syllable carries a written accent when it ends in a consonant "
            "other than n or s (árbol, fácil, lápiz), because the default rule would stress the last syllable.",
            [w for w in regular if w.from_end == 2],
        ),
        group_item(
            "Stress three syllables from the end always has a written accent",
            "Words stressed on the third syllable from the end (palabras esdrújulas: música, teléfono, sábado) "
            "always carry a written accent.",
            [w for w in regular if w.from_end >= 3],
        ),
        group_item(
            "A written accent on í or ú splits two vowels",
            "An accent on i or u next to another vowel makes them two syllables instead of one diphthong "
            "(dí-a, pa-ís, tí-o).",
            hiatus,
        ),
        _question_words(words),
        *(_diacritic(accented_form, words) for accented_form in _DIACRITIC_PAIRS),
    ]
    return [i for i in items if i is not None]


def _unaccented(parts: Sequence[str]) -> list[str]:
    return [p.translate(str.maketrans("áéíóú", "aeiou")) for p in parts]


def _bare(item: VocabItem) -> str:
    return re.sub(r"[¿?¡!.,]", "", _ARTICLE.sub("", unicodedata.normalize("NFC", item.word.strip()))).lower().strip()


def _question_words(words: Sequence[VocabItem]) -> GeneratedItem | None:
    listed = [(item, _QUESTION_WORDS[_bare(item)]) for item in words if _bare(item) in _QUESTION_WORDS]
    if not listed:
        return None
    return offline_item(
        "Question words carry a written accent",
        "qué, cómo, dónde, cuándo, cuánto, quién and cuál take a written accent when they ask, in direct and "
        "indirect questions; the same words without it (que, como, donde) link clauses.",
        [Example(text=text, translation=english) for _, (text, english) in listed],
        [item.word for item, _ in listed],
    )


def _diacritic(accented: str, words: Sequence[VocabItem]) -> GeneratedItem | None:
    """The pair `accented` / its unaccented twin, when the list has either word."""
    (meaning, with_accent, english), (plain, plain_meaning, without, plain_english) = _DIACRITIC_PAIRS[accented]
    listed = [item.word for item in words if _bare(item) in (accented, plain)]
    if not listed:
        return None
    return offline_item(
        f"{accented} or {plain}: the written accent tells two words apart",
        f"{accented} ({meaning}) and {plain} ({plain_meaning}) sound the same; only the written accent tells them "
        "apart.",
        [Example(text=with_accent, translation=english), Example(text=without, translation=plain_english)],
        listed,
    )


LANGUAGE = Language(
    code="es",
    name="Spanish",
    offline_items={Category.PRONUNCIATION: _pronunciation_items, Category.WRITING_SYSTEM: _writing_items},
)

"""Language codes (BCP 47, through langcodes) and the scripts a language is written in.

`standard_tag` is how every language code a user gives (a flag, an upload key, a JSON envelope) is
read; `written_in` and `script_of` tell which scripts a word's letters may come from. Scripts are
read from Unicode character names (`LATIN SMALL LETTER A`, `CJK UNIFIED IDEOGRAPH-4F60`), since the
standard library has no script property.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import langcodes
from langcodes.registry_parser import parse_registry

from havachat.errors import printable

# Undetermined, multiple languages, no linguistic content, uncoded: valid tags, but not a list's language.
_NOT_LANGUAGES = frozenset({"und", "mul", "zxx", "mis"})

# A language's likely script (ISO 15924, from langcodes) -> the scripts of its letters, by Unicode name prefix.
_SCRIPTS: dict[str, tuple[str, ...]] = {
    "Latn": ("LATIN",),
    "Grek": ("GREEK",),
    "Cyrl": ("CYRILLIC",),
    "Armn": ("ARMENIAN",),
    "Geor": ("GEORGIAN",),
    "Hebr": ("HEBREW",),
    "Arab": ("ARABIC",),
    "Deva": ("DEVANAGARI",),
    "Beng": ("BENGALI",),
    "Guru": ("GURMUKHI",),
    "Gujr": ("GUJARATI",),
    "Orya": ("ORIYA",),
    "Taml": ("TAMIL",),
    "Telu": ("TELUGU",),
    "Knda": ("KANNADA",),
    "Mlym": ("MALAYALAM",),
    "Sinh": ("SINHALA",),
    "Thai": ("THAI",),
    "Laoo": ("LAO",),
    "Khmr": ("KHMER",),
    "Mymr": ("MYANMAR",),
    "Ethi": ("ETHIOPIC",),
    "Hans": ("CJK",),
    "Hant": ("CJK",),
    "Jpan": ("CJK", "HIRAGANA", "KATAKANA"),
    "Kore": ("HANGUL", "CJK"),
}
_KNOWN_SCRIPTS = frozenset(prefix for prefixes in _SCRIPTS.values() for prefix in prefixes)
# Scripts whose letters ZWNJ and ZWJ shape (Persian and Arabic joining, Indic conjuncts).
JOINING_SCRIPTS = frozenset(
    {"ARABIC", "SYRIAC", "NKO", "MONGOLIAN", "DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL"}
    | {"TELUGU", "KANNADA", "MALAYALAM", "SINHALA", "KHMER", "MYANMAR"}
)


class UnknownLanguage(ValueError):
    """Not a BCP 47 language code; the message suggests the code when a language name was given."""


def standard_tag(text: str) -> str:
    """`text` as the BCP 47 tag keys and outputs use: standardised, then lower case.

    `pt_BR` -> `pt-br`, `eng` -> `en`, `iw` -> `he`. Raises `UnknownLanguage` for anything else,
    `und`, the other codes that name no language and private-use tags (`x-...`) included.
    """
    cleaned = text.strip()
    if langcodes.tag_is_valid(cleaned):
        tag = langcodes.Language.get(cleaned)
        if tag.language and tag.language.isalpha() and tag.language not in _NOT_LANGUAGES:  # x-...: private use
            return langcodes.standardize_tag(tag).lower()
    code = _codes_by_name().get(cleaned.casefold())
    hint = f"; did you mean '{code}'?" if code else "; use a code such as zh, ja, es or pt-BR"
    raise UnknownLanguage(f"'{printable(cleaned)}' is not a language code (BCP 47){hint}")


def written_in(language: str) -> tuple[str, ...]:
    """The scripts `language` is written in (Unicode name prefixes: LATIN, CJK, HIRAGANA, ...); () when unknown."""
    try:
        script = langcodes.Language.get(language).maximize().script
    except langcodes.LanguageTagError:
        return ()
    return _SCRIPTS.get(script or "", ())


def script_of(char: str) -> str | None:
    """The script of a character by its Unicode name (`CJK` for Han), or None when it names none."""
    first = unicodedata.name(char, "").split(" ", 1)[0].split("-", 1)[0]
    return first if first in _KNOWN_SCRIPTS or first in JOINING_SCRIPTS else None


def script_name(script: str) -> str:
    """How messages name a script: Han for CJK, else its name (Hangul, Cyrillic)."""
    return "Han" if script == "CJK" else script.title()


@cache
def _codes_by_name() -> dict[str, str]:
    """Language names, case-folded, to codes: havachat's names first, then the IANA registry's (its first
    non-deprecated subtag per name), read from the registry langcodes ships only when a code is refused."""
    from havachat.languages import LANGUAGES

    names = {language.name.casefold(): language.code for language in LANGUAGES.values()}
    for entry in parse_registry():
        if entry.get("Type") == "language" and "Deprecated" not in entry:
            for name in entry.get("Description", []):
                names.setdefault(name.casefold(), entry["Subtag"])
    return names

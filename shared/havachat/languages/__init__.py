"""What the pipeline knows about each language, one module per language: its reading checker, its
romanization and the items the offline generator derives from its dictionaries.

Each module (`zh`, `ja`, `ko`, `es`) ends with a `LANGUAGE` record (how prompts name it, its romanization and
focus per category, its script, its checker and offline items); adding a language is adding its module
and naming it in `MODULES`. Languages known only by name are listed in `NAMED_ONLY`. A language's module is
imported when the language is first looked up (`LANGUAGES`), so a handler's cold start builds none of them;
each imports its dictionary (pypinyin, SudachiPy and pykakasi, korean-romanizer) inside the functions that use
it, so a step that checks no reading never loads one.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from havachat.languages.common import Language, ReadingChecker

MODULES = ("zh", "ja", "ko", "es")
"""The languages with a module of their own (`havachat.languages.<code>`, its `LANGUAGE` record)."""

NAMED_ONLY = (
    Language("fr", "French"),
    Language("de", "German"),
    Language("it", "Italian"),
    Language("pt", "Portuguese"),
    Language("en", "English"),
    Language("ru", "Russian", "a standard Latin transliteration"),
    Language("ar", "Arabic", "a standard Latin transliteration"),
    Language("th", "Thai", "Royal Thai General System transcription with tone notes"),
    Language("hi", "Hindi", "a standard Latin transliteration (IAST)"),
    Language("el", "Greek", "a standard Latin transliteration"),
    Language("he", "Hebrew", "a standard Latin transliteration"),
    Language("yue", "Cantonese", "Jyutping", character_script=True),
    Language("wuu", "Wu Chinese", character_script=True),
)
"""Languages known by name, romanization and script only: generic prompt focus, no reading check, no offline items."""


class _Languages(Mapping[str, Language]):
    """Every known language by code, `MODULES` first; a language's module is imported on its first lookup."""

    def __init__(self) -> None:
        self._named = {language.code: language for language in NAMED_ONLY}
        self._codes = (*MODULES, *self._named)

    def __getitem__(self, code: str) -> Language:
        if code in MODULES:
            language: Language = importlib.import_module(f"havachat.languages.{code}").LANGUAGE
            return language
        return self._named[code]

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)


LANGUAGES: Mapping[str, Language] = _Languages()


def language_for(code: str) -> Language | None:
    """The language of a code such as zh, zh-TW or ja_JP (by its ISO 639 prefix), or None: unknown."""
    return LANGUAGES.get(code.strip().lower().replace("_", "-").split("-")[0])


def checker_for(code: str) -> ReadingChecker | None:
    """The reading checker of a language, or None: its readings are not checked."""
    language = language_for(code)
    return language.checker() if language and language.checker else None

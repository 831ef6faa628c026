"""Language codes are BCP 47 (langcodes), a language name is answered with its code, and scripts are told apart."""

from __future__ import annotations

import pytest

from havachat.languages.tags import UnknownLanguage, script_of, standard_tag, written_in
from havachat.offline import has_offline_items, offline_note


@pytest.mark.parametrize(
    ("given", "standard"),
    [
        ("zh", "zh"),
        ("ZH", "zh"),
        (" ja ", "ja"),
        ("pt-BR", "pt-br"),
        ("pt_BR", "pt-br"),
        ("zh-Hant-TW", "zh-hant-tw"),
        ("es-419", "es-419"),
        ("eng", "en"),  # ISO 639-2 to the two-letter code
        ("iw", "he"),  # deprecated to current
        ("en-Latn", "en"),  # the language's usual script is left out
        ("yue", "yue"),
    ],
)
def test_a_bcp_47_code_is_standardised_in_lower_case(given: str, standard: str) -> None:
    assert standard_tag(given) == standard


@pytest.mark.parametrize(
    ("given", "suggested"),
    [
        ("english", "en"),
        ("English", "en"),
        ("spanish", "es"),
        ("Chinese", "zh"),
        ("Mandarin Chinese", "zh"),  # havachat's own name wins over the registry's cmn
        ("greek", "el"),  # the registry says "Modern Greek (1453-)"; havachat's list says Greek
        ("Japanese", "ja"),
    ],
)
def test_a_language_name_is_refused_with_its_code_suggested(given: str, suggested: str) -> None:
    with pytest.raises(UnknownLanguage) as caught:
        standard_tag(given)

    assert str(caught.value) == f"'{given}' is not a language code (BCP 47); did you mean '{suggested}'?"


@pytest.mark.parametrize("given", ["xx", "z1", "", "en-", "a", "abcdefghi", "und", "mul", "zxx", "x-private", "日本語"])
def test_what_is_not_a_language_code_is_refused_with_examples(given: str) -> None:
    with pytest.raises(UnknownLanguage) as caught:
        standard_tag(given)

    assert str(caught.value) == f"'{given}' is not a language code (BCP 47); use a code such as zh, ja, es or pt-BR"


def test_a_refused_code_is_quoted_printable() -> None:
    with pytest.raises(UnknownLanguage) as caught:
        standard_tag("\ud83d\x1b")

    assert str(caught.value).startswith("'\\ud83d\\x1b' is not a language code")
    str(caught.value).encode("utf-8")  # no lone surrogate left to break a terminal or a JSON document


@pytest.mark.parametrize(
    ("language", "scripts"),
    [
        ("zh", ("CJK",)),
        ("zh-hant", ("CJK",)),
        ("ja", ("CJK", "HIRAGANA", "KATAKANA")),
        ("ko", ("HANGUL", "CJK")),
        ("ru", ("CYRILLIC",)),
        ("sr-latn", ("LATIN",)),
        ("es", ("LATIN",)),
        ("hi", ("DEVANAGARI",)),
        ("fa", ("ARABIC",)),
        ("tlh", ("LATIN",)),
        ("not a tag", ()),
    ],
)
def test_the_scripts_a_language_is_written_in(language: str, scripts: tuple[str, ...]) -> None:
    assert written_in(language) == scripts


def test_a_character_s_script_comes_from_its_unicode_name() -> None:
    assert [script_of(c) for c in "你ねネ한Яaé٣क्"] == [
        "CJK",
        "HIRAGANA",
        "KATAKANA",
        "HANGUL",
        "CYRILLIC",
        "LATIN",
        "LATIN",
        "ARABIC",
        "DEVANAGARI",
        "DEVANAGARI",  # the virama, a mark of the script
    ]
    assert script_of("1") is None and script_of("々") is None and script_of("\u200b") is None


def test_only_languages_with_a_dictionary_module_have_offline_items() -> None:
    assert [has_offline_items(code) for code in ("zh", "zh-tw", "ja", "ko", "es", "fr", "tlh")] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    assert "no items for fr (offline items exist for zh, ja, ko, es)" in offline_note("fr")

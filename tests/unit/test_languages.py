"""The language registry, and the steps that check no reading not paying for the dictionaries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from havachat.languages import LANGUAGES, MODULES, checker_for, language_for
from havachat.models import Category
from tests.helpers import ROOT

_DICTIONARIES = ("pypinyin", "pykakasi", "jaconv", "sudachipy", "korean_romanizer")


def _loaded_after_importing(module: str) -> list[str]:
    """The dictionary modules and `havachat.offline` that importing `module` loads, in a fresh interpreter."""
    probe = (
        f"import json, sys, {module}; "
        f"print(json.dumps(sorted(m for m in {(*_DICTIONARIES, 'havachat.offline')!r} if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize("module", ["havachat.planning", "havachat.pipeline.plan", "havachat.pipeline.finalize"])
def test_planning_and_the_light_steps_load_no_dictionary_nor_the_offline_generator(module: str) -> None:
    assert _loaded_after_importing(module) == []


def test_a_language_is_found_by_its_tag_and_unknown_ones_are_none() -> None:
    chinese = language_for("zh-TW")

    assert chinese is not None and chinese.code == "zh" and language_for("ja_JP") is language_for("ja")
    assert set(chinese.offline_items) == {Category.PRONUNCIATION, Category.WRITING_SYSTEM}
    assert language_for("tlh") is None and checker_for("tlh") is None
    spanish, french = language_for("es-MX"), language_for("fr-CA")
    assert spanish is not None and spanish.name == "Spanish" and spanish.romanization is None
    assert set(spanish.offline_items) == {Category.PRONUNCIATION, Category.WRITING_SYSTEM}
    assert french is not None and checker_for("pt-BR") is None and not french.offline_items, (
        "named-only languages have no module"
    )
    assert checker_for("ko") is checker_for("ko-KR"), "a checker is built once per language"


def test_every_language_is_listed_under_its_own_code_modules_first() -> None:
    assert list(LANGUAGES)[: len(MODULES)] == list(MODULES) and "fr" in LANGUAGES and "tlh" not in LANGUAGES
    assert all(LANGUAGES[code].code == code for code in LANGUAGES)

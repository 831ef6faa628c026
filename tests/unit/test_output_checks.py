"""An item repeating the system prompt (a followed prompt injection) is recognised; ordinary items are not."""

from __future__ import annotations

import pytest

from havachat.models import Example, GeneratedItem
from havachat.output_checks import ECHO_WORDS, echoes_system_prompt
from havachat.prompts import system_prompt


def _item(**text: str) -> GeneratedItem:
    fields = {"title": "Third-tone sandhi in 你好", "explanation": "Two third tones in a row: the first rises."}
    examples = [Example(text="你好", romanization="nǐ hǎo", translation="hello")] * 2
    return GeneratedItem(**{**fields, **text}, examples=examples, source_words=["你好"])


def test_an_ordinary_item_is_not_an_echo() -> None:
    assert not echoes_system_prompt(_item())


@pytest.mark.parametrize("field", ["title", "explanation"])
def test_a_stretch_of_the_system_prompt_in_any_field_is_an_echo(field: str) -> None:
    words = system_prompt().split()
    stretch = " ".join(words[40 : 40 + ECHO_WORDS]).upper()  # case does not hide it

    assert echoes_system_prompt(_item(**{field: f"Sure! {stretch} ..."}))


def test_fewer_words_than_the_threshold_are_not_an_echo() -> None:
    words = system_prompt().split()

    assert not echoes_system_prompt(_item(explanation=" ".join(words[40 : 40 + ECHO_WORDS - 2])))

"""What every language module shares: the checker interface, the `Language` record and offline item helpers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from havachat.models import Category, Example, GeneratedItem, ReadingStatus, VocabItem

MAX_SOURCE_WORDS = 12
"""The most list words one offline item cites."""


@dataclass(frozen=True)
class ReadingCheck:
    """How a written reading compares with the dictionary, and the dictionary's likeliest reading."""

    status: ReadingStatus
    expected: str


class ReadingChecker(Protocol):
    def romanize(self, text: str) -> str:
        """The likeliest reading, written as a vocab list would write it."""
        ...

    def check(self, text: str, given: str) -> ReadingCheck | None:
        """How `given` compares with the dictionary; None when the text cannot be checked."""
        ...


OfflineDerivation = Callable[[Sequence[VocabItem]], list[GeneratedItem]]
"""Items of one category derived from a list's words by dictionary analysis, with no LLM."""


@dataclass(frozen=True)
class Language:
    """What the pipeline knows about one language: how prompts name it, its script, its readings and offline items."""

    code: str  # ISO 639-1, the part of a tag before "-" (zh for zh-TW)
    name: str  # as prompts name it
    romanization: str | None = None  # the system examples are romanized in; None: written in Latin letters
    focus: Mapping[Category, str] = field(default_factory=dict)  # per category; others get the generic focus
    character_script: bool = False  # written in Han characters without spaces: words are found by longest match
    checker: Callable[[], ReadingChecker] | None = None  # built on first call, when the dictionary is imported
    offline_items: Mapping[Category, OfflineDerivation] = field(default_factory=dict)


@dataclass(frozen=True)
class Word:
    """A list word with its reading (the list's romanization or the dictionary's), as shown to learners."""

    item: VocabItem
    reading: str

    @property
    def text(self) -> str:
        return self.item.word

    def example(self) -> Example | None:
        """The word as an example, or None when the list gives no meaning for it (a gloss is never made up)."""
        meaning = gloss(self.item)
        return Example(text=self.text, romanization=self.reading or None, translation=meaning) if meaning else None


def gloss(item: VocabItem) -> str | None:
    """The list's meaning as a dictionary writes it (its first two senses), or None when it gives none."""
    senses = [s.strip() for s in re.split(r"[;；]", item.definition or "") if s.strip()]
    return "; ".join(senses[:2]) or None


def offline_item(
    title: str, explanation: str, examples: Iterable[Example | None], words: Sequence[str]
) -> GeneratedItem | None:
    """An item with up to three of the examples, or None when fewer than two have a meaning to show."""
    shown = [e for e in examples if e is not None][:3]
    if len(shown) < 2:
        return None
    return GeneratedItem(
        title=title, explanation=explanation, examples=shown, source_words=list(dict.fromkeys(words))[:MAX_SOURCE_WORDS]
    )


def group_item(title: str, explanation: str, group: Sequence[Word]) -> GeneratedItem | None:
    """An item showing the words of a group, or None when fewer than two words share the feature."""
    if len(group) < 2:
        return None
    glossed = sorted(group, key=lambda w: gloss(w.item) is None)  # words with a meaning first, in list order
    return offline_item(title, explanation, [w.example() for w in glossed], [w.text for w in glossed])

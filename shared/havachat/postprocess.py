"""From a model's answer to stored items: metadata, provenance, source-word checks and de-duplication."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from havachat.models import (
    Category,
    GeneratedItem,
    LearningItem,
    LearningItemBatch,
    Level,
    Provenance,
    VocabItem,
    item_id,
)


@dataclass
class FinishedItems:
    """The items kept from one answer and how many were dropped, and why."""

    items: list[LearningItem] = field(default_factory=list)
    dropped_unknown_words: int = 0
    dropped_duplicates: int = 0


def _match_key(text: str) -> str:
    """NFC, trimmed, inner whitespace collapsed: how a source word is compared with the vocabulary."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


class WordIndex:
    """Resolves a word as the model wrote it to the vocabulary's canonical spelling.

    An exact match (after NFC and trimming) wins; otherwise a case-insensitive match, which only makes a
    difference for scripts with case (Latin, and also Greek and Cyrillic). Among vocabulary words that
    differ only in case (German `Essen` / `essen`), an exact match picks the right one and a
    case-insensitive one picks the first in file order.
    """

    def __init__(self, words: Iterable[VocabItem]) -> None:
        self._exact: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        for item in words:
            key = _match_key(item.word)
            self._exact.setdefault(key, item.word)
            self._folded.setdefault(key.casefold(), item.word)

    def canonical(self, word: str) -> str | None:
        key = _match_key(word)
        return self._exact.get(key) or self._folded.get(key.casefold())

    def canonical_words(self, words: Iterable[str]) -> list[str] | None:
        """The canonical spellings, duplicates removed in order; None if any word is not in the vocabulary."""
        resolved: list[str] = []
        for word in words:
            canonical = self.canonical(word)
            if canonical is None:
                return None
            resolved.append(canonical)
        return list(dict.fromkeys(resolved))


def finish_items(
    batch: LearningItemBatch,
    *,
    words: Sequence[VocabItem],
    language: str,
    level: Level,
    category: Category,
    provenance: Provenance,
) -> FinishedItems:
    """Turn one answer into learning items for the words it was asked about.

    An item whose source words are not all in `words` is dropped whole: it is hallucinated or was
    steered by text injected into the vocabulary. Source words are rewritten to the vocabulary's
    spelling before the id is computed, so the id does not depend on how the model spelled them.
    Items with an id already seen in this answer are dropped (first kept).
    """
    index = WordIndex(words)
    result = FinishedItems()
    seen: set[str] = set()
    for generated in batch.items:
        source_words = index.canonical_words(generated.source_words)
        if not source_words:
            result.dropped_unknown_words += 1
            continue
        item = _learning_item(generated, source_words, language, level, category, provenance)
        if item.id in seen:
            result.dropped_duplicates += 1
            continue
        seen.add(item.id)
        result.items.append(item)
    return result


def _learning_item(
    generated: GeneratedItem,
    source_words: list[str],
    language: str,
    level: Level,
    category: Category,
    provenance: Provenance,
) -> LearningItem:
    return LearningItem(
        id=item_id(language, category, generated.title, source_words),
        title=generated.title,
        explanation=generated.explanation,
        examples=generated.examples,
        source_words=source_words,
        language=language,
        category=category,
        level_system=level.system,
        level_min=level.label,
        level_max=level.label,
        provenance=provenance,
    )


def dedupe_items(items: Iterable[LearningItem]) -> tuple[list[LearningItem], int]:
    """Items with distinct ids in their original order (first wins) and how many were removed."""
    kept: dict[str, LearningItem] = {}
    removed = 0
    for item in items:
        if item.id in kept:
            removed += 1
        else:
            kept[item.id] = item
    return list(kept.values()), removed

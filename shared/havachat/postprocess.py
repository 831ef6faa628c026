"""From a model's answer to stored items: metadata, provenance, source-word checks, de-duplication (exact and
by feature, across chunks and runs) and coverage."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from pydantic import BaseModel, Field

from havachat.models import (
    BUILT_ON_FIRST_USE,
    Category,
    GeneratedItem,
    LearningItem,
    LearningItemBatch,
    Level,
    Provenance,
    ReadingFlag,
    VocabItem,
    VocabKind,
    item_id,
    normalise_text,
)
from havachat.output_checks import echoes_system_prompt


@dataclass
class FinishedItems:
    """The items kept from one answer and how many were dropped, and why."""

    items: list[LearningItem] = field(default_factory=list)
    dropped_unknown_words: int = 0
    dropped_duplicates: int = 0
    dropped_prompt_echoes: int = 0  # items repeating the system prompt (havachat.output_checks)


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
        if echoes_system_prompt(generated):
            result.dropped_prompt_echoes += 1
            continue
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


# --------------------------------------------------------------------------------------------------
# Merging items about the same feature (across chunks, and across runs of the same list)
# --------------------------------------------------------------------------------------------------
TITLE_SIMILARITY = 0.6
"""Share of title words two items must have in common (with a source word in common) to be merged."""
MAX_EXAMPLES = 3
_TITLE_STOPWORDS = frozenset(
    "a an and as at by for from how in into is of on or the their to use uses using versus vs what when with".split()  # noqa: SIM905
)


def title_words(title: str) -> frozenset[str]:
    """The content words of a title (NFKC, case-folded, no stop words); a run of CJK characters is one word."""
    words = re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", title).casefold())
    return frozenset(w for w in words if w not in _TITLE_STOPWORDS)


_KEYED_CATEGORIES = frozenset({Category.PRONUNCIATION, Category.WRITING_SYSTEM})
# Patterns left for re to compile (and cache) on first use, in Finalize: a class this wide costs ~2 ms to compile,
# which every handler's cold start would pay.
_HAN_CHARACTER = r"[\u2e80-\u2fdf\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_CJK = r"[\u2e80-\u2fdf\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
_READING_WORDS = frozenset("change changes heteronym heteronyms pronounced read reading readings sandhi".split())  # noqa: SIM905
MAX_MERGED_SOURCE_WORDS = 24
"""The most source words an item keeps when items about the same feature are merged into it."""


def feature_key(category: Category, title: str, source_words: Iterable[str]) -> str | None:
    """What a pronunciation or writing-system item teaches, read from its title (None for other categories).

    The character, when the title names exactly one (a writing-system item, or a pronunciation item
    about a reading or a tone change: `The character 人 in 人们`, `Tone change of 不`); otherwise the
    sound pattern, the title's words in Latin letters and single characters without the item's own
    source words (`Third-tone sandhi in 你好`: third, tone, sandhi), when at least two are left.
    """
    if category not in _KEYED_CATEGORIES:
        return None
    words = title_words(title)
    characters = sorted(w for w in words if len(w) == 1 and re.match(_HAN_CHARACTER, w))
    if len(characters) == 1 and (category is Category.WRITING_SYSTEM or words & _READING_WORDS):
        return f"{category.value}:{characters[0]}"
    cited = {normalise_text(w) for w in source_words}
    pattern = sorted(w for w in words if w not in cited and not re.search(_CJK, w))
    if len(pattern) < 2:
        return None
    return f"{category.value}:{' '.join([*pattern, *(c for c in characters if c not in cited)])}"


@dataclass(frozen=True)
class Feature:
    """What identifies the feature an item teaches: its category, title and source words."""

    category: Category
    title: str
    source_words: frozenset[str]

    @classmethod
    def of(cls, item: LearningItem) -> Feature:
        return cls(item.category, item.title, frozenset(item.source_words))

    @property
    def title_key(self) -> str:
        return normalise_text(self.title)

    @cached_property
    def key(self) -> str | None:
        """`feature_key`: items with the same key teach the same feature, whatever their words."""
        return feature_key(self.category, self.title, self.source_words)

    def same_as(self, other: Feature) -> bool:
        """Same category and the same normalised title or feature key, or (unless both have different keys)
        titles mostly sharing words and a source word."""
        if self.category is not other.category:
            return False
        if self.title_key == other.title_key or (self.key is not None and self.key == other.key):
            return True
        if self.key is not None and other.key is not None:  # two different features, however alike the titles
            return False
        mine, theirs = title_words(self.title), title_words(other.title)
        if not mine or not theirs or not self.source_words & other.source_words:
            return False
        return len(mine & theirs) / len(mine | theirs) >= TITLE_SIMILARITY


class FeatureIndex:
    """Finds an earlier feature that a new one matches, by exact title, by feature key or through a shared
    source word."""

    def __init__(self) -> None:
        self._by_title: dict[tuple[Category, str], str] = {}
        self._by_key: dict[str, str] = {}
        self._by_word: dict[tuple[Category, str], list[str]] = {}
        self._features: dict[str, Feature] = {}

    def add(self, key: str, feature: Feature) -> None:
        self._features[key] = feature
        self._by_title.setdefault((feature.category, feature.title_key), key)
        if feature.key is not None:
            self._by_key.setdefault(feature.key, key)
        for word in feature.source_words:
            keys = self._by_word.setdefault((feature.category, word), [])
            if key not in keys:
                keys.append(key)

    def find(self, feature: Feature) -> str | None:
        exact = self._by_title.get((feature.category, feature.title_key))
        if exact is None and feature.key is not None:
            exact = self._by_key.get(feature.key)
        if exact is not None:
            return exact
        for word in sorted(feature.source_words):
            for key in self._by_word.get((feature.category, word), []):
                if feature.same_as(self._features[key]):
                    return key
        return None


def merge_into(kept: LearningItem, other: LearningItem) -> LearningItem:
    """`kept` with `other`'s source words added (up to `MAX_MERGED_SOURCE_WORDS`) and its examples, up to
    three distinct ones in all."""
    examples = list(kept.examples)
    seen = {normalise_text(e.text) for e in examples}
    for example in other.examples:
        if len(examples) >= MAX_EXAMPLES:
            break
        if normalise_text(example.text) not in seen:
            seen.add(normalise_text(example.text))
            examples.append(example)
    flags: list[ReadingFlag] = []
    for flag in [*kept.reading_flags, *other.reading_flags]:
        index = next((i for i, e in enumerate(examples) if e.text == flag.text), None)
        if index is not None and all(f.example != index for f in flags):
            flags.append(flag.model_copy(update={"example": index}))
    words = list(dict.fromkeys([*kept.source_words, *other.source_words]))
    words = words[: max(len(kept.source_words), MAX_MERGED_SOURCE_WORDS)]
    return kept.model_copy(update={"source_words": words, "examples": examples, "reading_flags": flags})


def merge_similar(items: Iterable[LearningItem]) -> tuple[list[LearningItem], int]:
    """Items about the same feature (`Feature.same_as`, `feature_key`) merged into the first, in one pass over
    dictionaries; returns them and the merge count."""
    kept: dict[str, LearningItem] = {}
    index = FeatureIndex()
    merged = 0
    for item in items:
        match = index.find(Feature.of(item))
        if match is None:
            kept[item.id] = item
            index.add(item.id, Feature.of(item))
            continue
        kept[match] = merge_into(kept[match], item)
        index.add(match, Feature.of(kept[match]))
        merged += 1
    return list(kept.values()), merged


class CatalogEntry(BaseModel):
    """One feature taught by earlier runs of the same list (`catalog/<list>/items.json`)."""

    model_config = BUILT_ON_FIRST_USE

    id: str
    category: Category
    title: str
    source_words: list[str]
    first_run: str
    last_run: str


def match_catalog(
    items: Sequence[LearningItem], catalog: Sequence[CatalogEntry], run_id: str
) -> tuple[list[LearningItem], list[CatalogEntry], int]:
    """Give items that teach a feature of an earlier run that run's item id, and update the catalog.

    Entries first made by `run_id` itself are not matched, so a retried Finalize gives the same
    result. Items of this run that end up with the same id are merged. Returns the items, the
    updated catalog and how many items matched an earlier run's feature.
    """
    index = FeatureIndex()
    for entry in catalog:
        if entry.first_run != run_id:
            index.add(entry.id, Feature(entry.category, entry.title, frozenset(entry.source_words)))
    matched = 0
    renamed: list[LearningItem] = []
    for item in items:
        earlier = index.find(Feature.of(item))
        if earlier is not None:
            matched += 1
            item = item.model_copy(update={"id": earlier})
        renamed.append(item)
    by_id: dict[str, LearningItem] = {}
    for item in renamed:
        by_id[item.id] = merge_into(by_id[item.id], item) if item.id in by_id else item
    # This run's own entries are rebuilt; earlier runs' entries only get `last_run`, so their matching
    # fields never change and a retried Finalize matches exactly as the first attempt did.
    entries = {entry.id: entry for entry in catalog if entry.first_run != run_id}
    for item in by_id.values():
        known = entries.get(item.id)
        if known is None:
            entries[item.id] = CatalogEntry(
                id=item.id,
                category=item.category,
                title=item.title,
                source_words=list(item.source_words),
                first_run=run_id,
                last_run=run_id,
            )
        else:
            entries[item.id] = known.model_copy(update={"last_run": run_id})
    return list(by_id.values()), list(entries.values()), matched


# --------------------------------------------------------------------------------------------------
# Coverage
# --------------------------------------------------------------------------------------------------
class Coverage(BaseModel):
    """Share of the list's words (grammar points excluded) that at least one kept item cites."""

    model_config = BUILT_ON_FIRST_USE

    words: int = 0
    overall: float = 0.0
    by_category: dict[str, float] = Field(default_factory=dict)
    missed_by_category: dict[str, list[str]] = Field(default_factory=dict)


def coverage(words: Sequence[VocabItem], items: Iterable[LearningItem], categories: Iterable[Category]) -> Coverage:
    """Per planned category and overall, the share of `words` (kind word) cited in some item's source words."""
    listed = list(dict.fromkeys(w.word for w in words if w.kind is VocabKind.WORD))
    if not listed:
        return Coverage()
    cited: dict[Category, set[str]] = {c: set() for c in categories}
    for item in items:
        cited.setdefault(item.category, set()).update(item.source_words)
    everything = set().union(*cited.values()) if cited else set()
    return Coverage(
        words=len(listed),
        overall=round(sum(w in everything for w in listed) / len(listed), 4),
        by_category={c.value: round(sum(w in s for w in listed) / len(listed), 4) for c, s in cited.items()},
        missed_by_category={c.value: [w for w in listed if w not in s] for c, s in cited.items()},
    )

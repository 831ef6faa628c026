"""The offline generator: real pronunciation and writing-system items from dictionary analysis, no LLM.

It is what `havachat run` uses when no LLM is configured (provider `offline`, or `auto` without
credentials), what `LearningItemGenerator(provider="offline")` uses, and it can be chosen on AWS with
HAVACHAT_PROVIDER=offline. Every item is derived from the list by the language's module under
`havachat.languages`, cites only list words, shows only words the list (or Plan's dictionary fill)
gives a meaning for, and is marked `generator="offline"`, `model="offline"` in its provenance, at
zero tokens and cost. What each language gets, in the two categories offline covers:

- zh: pronunciation (tone pairs, third-tone sandhi, 不 and 一 in real phrases, neutral tones,
  heteronyms); writing system (characters shared by the list's words).
- ja: pronunciation (long vowels, small っ, ん before b/p/m); writing system (kanji shared by words,
  words read as a whole, katakana loanwords, okurigana).
- ko: pronunciation (liaison, silent ㅎ, nasalisation, ㄹ assimilation, aspiration, tense and aspirated
  consonants); writing system (double final consonants).
- es: pronunciation (the default stress rules, diphthongs, h, ñ, rr, silent u); writing system (when
  the written accent is needed, the accent of hiatus, tú/tu-type pairs and question words).

Idioms, functional language, culture, sociolinguistics, pragmatics, literacy and patterns, and Stage 2
conversations and stories, need an LLM: Plan leaves them out of an offline run and the run summary
names them.
"""

from __future__ import annotations

from collections.abc import Sequence

from havachat.generation import BatchResult
from havachat.languages import LANGUAGES, language_for
from havachat.ledger import UsageTotals
from havachat.models import (
    OFFLINE_CATEGORIES,
    OFFLINE_MODEL,
    BatchSpec,
    Category,
    GeneratedItem,
    LearningItemBatch,
    Level,
    Provenance,
    VocabItem,
    VocabKind,
)
from havachat.postprocess import finish_items

OFFLINE_VERSION = "offline-2026-12.1"
LLM_CATEGORIES: tuple[Category, ...] = tuple(c for c in Category if c not in OFFLINE_CATEGORIES)


def has_offline_items(language: str) -> bool:
    """Whether the offline generator derives any item for the language (zh, ja, ko, es today)."""
    found = language_for(language)
    return found is not None and bool(found.offline_items)


def offline_note(language: str | None = None) -> str:
    """One line saying what an offline run gives and how to get the rest."""
    with_items = [code for code, known in LANGUAGES.items() if known.offline_items]
    what = (
        f"{', '.join(c.value for c in OFFLINE_CATEGORIES)} items from dictionaries and spelling rules"
        if not language or has_offline_items(language)
        else f"no items for {language} (offline items exist for {', '.join(with_items)})"
    )
    return (
        f"offline generator: {what}; {', '.join(c.value for c in LLM_CATEGORIES)} items, and conversations "
        "and stories, need an LLM "
        "(set ANTHROPIC_API_KEY, or --provider bedrock with AWS credentials)"
    )


def derive_items(category: Category, language: str, words: Sequence[VocabItem]) -> list[GeneratedItem]:
    """The items the dictionaries support for this category and language (none for the others)."""
    found = language_for(language)
    derive = found.offline_items.get(category) if found else None
    return derive([w for w in words if w.kind is VocabKind.WORD]) if derive else []


class OfflineGenerator:
    """A `BatchGenerator` that asks no LLM: every item `derive_items` finds (they cost nothing, so the
    batch's target count, an LLM cost bound, does not cap them)."""

    model = OFFLINE_MODEL

    def generate_batch(
        self, spec: BatchSpec, words: Sequence[VocabItem], *, language: str, level: Level, run_id: str
    ) -> BatchResult:
        drafts = derive_items(spec.category, language, words)
        result = BatchResult(batch_id=spec.batch_id, items=[], usage=UsageTotals())
        if not drafts:
            return result
        provenance = Provenance(
            run_id=run_id, batch_id=spec.batch_id, model=OFFLINE_MODEL, prompt_version=OFFLINE_VERSION,
            generator="offline",
        )  # fmt: skip
        finished = finish_items(
            LearningItemBatch(items=drafts),
            words=words,
            language=language,
            level=level,
            category=spec.category,
            provenance=provenance,
        )
        result.items = finished.items
        result.dropped_duplicates = finished.dropped_duplicates
        return result

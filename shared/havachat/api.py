"""The Python API: the pipeline's core for notebooks and other services, without AWS.

    from havachat.api import LearningItemGenerator

    generator = LearningItemGenerator(language="zh", level="HSK1")       # ANTHROPIC_API_KEY from the env
    words = ["你好", "谢谢", "再见"]
    pronunciation = generator.generate_pronunciation_items(words)
    idioms = generator.generate_idiom_items(words, grammar_items=["是…的"])
    misc = generator.generate_miscellaneous_items(words)               # sociolinguistic … pattern, by category
    everything = generator.generate_all(words, grammar_items=["是…的"])  # dict[Category, list[LearningItem]]
    content = generator.generate_content(everything_as_a_list, words)    # Stage 2: conversations and stories

Each category method is one structured call per chunk (the vocabulary is chunked by the same token
budget as the pipeline's), chunks running concurrently; items teaching the same feature in several
chunks are merged into one (`havachat.postprocess.merge_similar`, as Finalize does).

No LLM: `LearningItemGenerator(..., provider="offline")` (or HAVACHAT_PROVIDER=offline) writes the
pronunciation and writing-system items the offline generator derives (`havachat.offline`: zh, ja, ko,
es), at no cost; asking it for another category, or for `generate_content`, raises `NeedsLlm`.

Words may be plain strings or `VocabItem`s;
they go through the same validation as a vocab file (`InvalidVocabFile` names the entry). Failures
are typed: `MissingCredentials` when no LLM is configured, `GenerationFailed` (with the per-batch
errors and the items that did succeed) when a call fails for good, never an empty list in place of
an error. Importing this module does not import anthropic: the LLM client is built on first use.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeAlias

from havachat.concurrency import map_concurrently
from havachat.content.generate import generate_content_with_settings
from havachat.content.models import ContentDocument
from havachat.errors import HavachatError, LlmInvalidOutput, NeedsLlm
from havachat.generation import BatchResult, generate_batch
from havachat.languages.dictionary import fill_from_dictionaries
from havachat.ledger import Ledger
from havachat.llm_port import StructuredContentLlm, StructuredLlm
from havachat.models import (
    OFFLINE_CATEGORIES,
    OFFLINE_MODEL,
    BatchSpec,
    Category,
    LearningItem,
    Level,
    VocabItem,
    VocabKind,
    VocabList,
)
from havachat.offline import OfflineGenerator, has_offline_items, offline_note
from havachat.planning import plan_run
from havachat.postprocess import dedupe_items, merge_similar
from havachat.readings import flag_readings
from havachat.settings import Provider, Settings
from havachat.vocab import VocabLimits, parse_vocab

WordInput: TypeAlias = str | VocabItem
MISCELLANEOUS = (Category.SOCIOLINGUISTIC, Category.PRAGMATIC, Category.LITERACY, Category.PATTERN)
"""What `generate_miscellaneous_items` returns, as the seed's API grouped them."""


class GenerationFailed(HavachatError):
    """Some batches failed after their retries.

    `errors` maps each failed batch id (`<category>-<chunk>`) to its exception (`LlmThrottled`,
    `LlmRequestRejected`, ...); `partial` holds the items of every batch that succeeded, by category.
    """

    def __init__(self, errors: dict[str, Exception], partial: dict[Category, list[LearningItem]]) -> None:
        self.errors = errors
        self.partial = partial
        shown = "; ".join(f"{batch}: {type(exc).__name__}: {exc}" for batch, exc in list(errors.items())[:5])
        super().__init__(f"{len(errors)} batch(es) failed: {shown}")


class GeneratorLlm(StructuredLlm, StructuredContentLlm, Protocol):
    """What the generator needs from a client: item batches and, for Stage 2, any response model."""


class LearningItemGenerator:
    """Learning items (and Stage 2 content) for one language and level.

    `llm`: an `havachat.llm.InstructorClaude` (or anything with its `generate` and
    `generate_structured` methods); by default one is built from `settings` (provider, model, retries)
    and `ANTHROPIC_API_KEY`, raising `MissingCredentials` if there is no key. `provider="offline"` (or
    `settings.provider`, HAVACHAT_PROVIDER) uses no LLM: see `NeedsLlm`. `run_id` labels the items'
    provenance. `usage` sums the tokens and cost of every call by category.
    """

    def __init__(
        self,
        language: str = "zh",
        level: str | Level = "HSK1",
        llm: GeneratorLlm | None = None,
        settings: Settings | None = None,
        *,
        provider: str | Provider | None = None,
        run_id: str | None = None,
    ) -> None:
        self.settings = settings or Settings()
        if provider is not None:
            self.settings = self.settings.model_copy(update={"provider": Provider(provider)})
        self.language = language.strip().lower()
        self.level = level if isinstance(level, Level) else Level.parse(level)
        self.offline = OfflineGenerator() if llm is None and self.settings.provider is Provider.OFFLINE else None
        if llm is None and self.offline is None:
            from havachat.llm import make_llm  # anthropic + instructor: imported only when needed

            llm = make_llm(self.settings)
        self.llm: GeneratorLlm | None = llm
        self.run_id = run_id or f"api-{uuid.uuid4().hex[:12]}"
        self.usage = Ledger()
        self._lock = threading.Lock()

    # -- one method per category ------------------------------------------------------------------

    def generate_pronunciation_items(self, vocab_items: Sequence[WordInput]) -> list[LearningItem]:
        return self.generate_category(Category.PRONUNCIATION, vocab_items)

    def generate_idiom_items(
        self, vocab_items: Sequence[WordInput], grammar_items: Sequence[WordInput] | None = None
    ) -> list[LearningItem]:
        return self.generate_category(Category.IDIOM, vocab_items, grammar_items)

    def generate_functional_items(self, vocab_items: Sequence[WordInput]) -> list[LearningItem]:
        return self.generate_category(Category.FUNCTIONAL, vocab_items)

    def generate_cultural_items(self, vocab_items: Sequence[WordInput]) -> list[LearningItem]:
        return self.generate_category(Category.CULTURAL, vocab_items)

    def generate_writing_system_items(self, vocab_items: Sequence[WordInput]) -> list[LearningItem]:
        return self.generate_category(Category.WRITING_SYSTEM, vocab_items)

    def generate_sociolinguistic_items(self, vocab_items: Sequence[WordInput]) -> list[LearningItem]:
        return self.generate_category(Category.SOCIOLINGUISTIC, vocab_items)

    def generate_pragmatic_items(self, vocab_items: Sequence[WordInput]) -> list[LearningItem]:
        return self.generate_category(Category.PRAGMATIC, vocab_items)

    def generate_literacy_items(self, vocab_items: Sequence[WordInput]) -> list[LearningItem]:
        return self.generate_category(Category.LITERACY, vocab_items)

    def generate_pattern_items(
        self, vocab_items: Sequence[WordInput], grammar_items: Sequence[WordInput] | None = None
    ) -> list[LearningItem]:
        return self.generate_category(Category.PATTERN, vocab_items, grammar_items)

    def generate_miscellaneous_items(
        self, vocab_items: Sequence[WordInput], grammar_items: Sequence[WordInput] | None = None
    ) -> dict[Category, list[LearningItem]]:
        """The sociolinguistic, pragmatic, literacy and pattern items: one call per category (and chunk)."""
        return self.generate_all(vocab_items, grammar_items, categories=MISCELLANEOUS)

    # -- the general forms ------------------------------------------------------------------------

    def generate_category(
        self,
        category: Category,
        vocab_items: Sequence[WordInput],
        grammar_items: Sequence[WordInput] | None = None,
    ) -> list[LearningItem]:
        """One category's items: one call per chunk of the vocabulary, chunks in parallel."""
        return self.generate_all(vocab_items, grammar_items, categories=[category])[category]

    def generate_all(
        self,
        vocab_items: Sequence[WordInput],
        grammar_items: Sequence[WordInput] | None = None,
        *,
        categories: Sequence[Category] | None = None,
    ) -> dict[Category, list[LearningItem]]:
        """Every requested category's items (default: all, or the offline ones offline), all batches running
        concurrently (`settings.map_concurrency`).

        Words without a definition get the dictionary's (`havachat.languages.dictionary`: zh, ja), as Plan
        gives them. Grammar points go to the idiom and pattern batches only. Every example's romanization is checked
        (`havachat.check_reading`): ambiguous or wrong ones are listed in the item's `reading_flags`. Items
        about the same feature in several chunks are merged. Raises `GenerationFailed` if any batch fails,
        or if a category's answers were all dropped (every item cited words outside the list); offline,
        `NeedsLlm` for a category or language the offline generator does not cover.
        """
        if categories is None:
            categories = OFFLINE_CATEGORIES if self.offline else tuple(Category)
        self._check_offline(categories)
        vocab = fill_from_dictionaries(vocabulary(vocab_items, grammar_items, self.settings), self.language)
        plan = plan_run(
            vocab,
            run_id=self.run_id,
            language=self.language,
            level=self.level,
            model=self.llm.model if self.llm else OFFLINE_MODEL,
            chunk_token_budget=self.settings.chunk_token_budget,
            max_tokens=self.settings.max_tokens,
            context_window_tokens=self.settings.context_window_tokens,
            categories=categories,
        )

        def run(spec: BatchSpec) -> BatchResult | Exception:
            words = vocab.items[spec.word_start : spec.word_end]
            try:
                if self.llm is None:
                    offline = self.offline or OfflineGenerator()
                    result = offline.generate_batch(
                        spec, words, language=self.language, level=self.level, run_id=self.run_id
                    )
                else:
                    result = generate_batch(
                        spec,
                        words,
                        language=self.language,
                        level=self.level,
                        run_id=self.run_id,
                        llm=self.llm,
                        max_tokens=self.settings.max_tokens,
                        max_split_depth=self.settings.max_split_depth,
                    )
            except Exception as exc:
                return exc
            with self._lock:
                self.usage.record(spec.category.value, result.usage)
            return result

        outcomes = map_concurrently(run, plan.batches, self.settings.map_concurrency)

        results: dict[Category, list[LearningItem]] = {category: [] for category in dict.fromkeys(categories)}
        dropped: dict[Category, int] = dict.fromkeys(results, 0)
        errors: dict[str, Exception] = {}
        for spec, outcome in zip(plan.batches, outcomes, strict=True):
            if isinstance(outcome, Exception):
                errors[spec.batch_id] = outcome
            else:
                results[spec.category].extend(flag_readings(outcome.items, self.language))
                dropped[spec.category] += outcome.dropped_unknown_words
        for category, items in results.items():
            if not items and dropped[category] and not any(e.startswith(f"{category.value}-") for e in errors):
                errors[category.value] = LlmInvalidOutput(
                    f"all {dropped[category]} {category.value} items cited words that are not in the list"
                )
        for category, items in results.items():
            results[category] = merge_similar(dedupe_items(items)[0])[0]
        if errors:
            raise GenerationFailed(errors, results) from next(iter(errors.values()))
        return results

    def _check_offline(self, categories: Iterable[Category]) -> None:
        if self.offline is None:
            return
        needing = [c.value for c in categories if c not in OFFLINE_CATEGORIES]
        if needing or not has_offline_items(self.language):
            asked = ", ".join(needing) if needing else f"{self.language} items"
            raise NeedsLlm(f"{asked} need an LLM, and the provider is offline: {offline_note(self.language)}")

    def generate_content(
        self,
        items: Iterable[LearningItem],
        vocab_items: Sequence[WordInput],
        *,
        conversations: int | None = None,
        stories: int | None = None,
    ) -> ContentDocument:
        """Stage 2: conversations and stories from `items`, checked against `vocab_items` (the level's list).

        Counts default to `settings.content_conversations` / `content_stories`. Raises
        `havachat.content.ContentGenerationFailed` if a content call fails for good, and `NeedsLlm` when
        the provider is offline: conversations and stories are always written by an LLM.
        """
        if self.llm is None:
            raise NeedsLlm.for_content()
        vocab = vocabulary(vocab_items, None, self.settings)
        document = generate_content_with_settings(
            list(items),
            vocab.items,
            self.settings,
            run_id=self.run_id,
            language=self.language,
            level=self.level,
            llm=self.llm,
            conversations=conversations,
            stories=stories,
        )
        with self._lock:
            for kind, usage in document.summary.usage_by_kind.items():
                self.usage.record(f"content-{kind}", usage)
        return document


def vocabulary(
    vocab_items: Sequence[WordInput], grammar_items: Sequence[WordInput] | None, settings: Settings
) -> VocabList:
    """Words and grammar points as a validated `VocabList`, through the same intake as a vocab file.

    Strings become entries with only a word; a `VocabItem` keeps its fields (and a grammar point among
    `vocab_items` stays one). Raises `InvalidVocabFile` (e.g. an empty word: "python input, item 2").
    """
    if isinstance(vocab_items, str) or isinstance(grammar_items, str):
        raise TypeError("pass a list of words, not a single string")
    words: list[object] = []
    grammar: list[object] = []
    for entry in vocab_items:
        target = grammar if isinstance(entry, VocabItem) and entry.kind is VocabKind.GRAMMAR else words
        target.append(_entry(entry))
    grammar.extend(_entry(entry) for entry in grammar_items or ())
    document = json.dumps({"items": words, "grammar": grammar}, ensure_ascii=False).encode()
    return parse_vocab(document, "python input.json", VocabLimits.from_settings(settings))


def _entry(entry: WordInput) -> object:
    if isinstance(entry, VocabItem):
        fields = {k: v for k, v in entry.model_dump(exclude={"kind", "extra"}).items() if v is not None}
        return {**entry.extra, **fields}
    return entry

"""One category batch end to end: prompt, structured call, post-processing, usage.

A batch's calls ask for a `max_tokens` sized to its item target (`prompts.max_tokens_for_items`, at
most the configured `max_tokens`), not the ceiling: the API reserves it from the output-token rate
limit while the call runs. An answer cut off at `max_tokens` is not re-asked (the same prompt would be
cut off again): the chunk is halved and each half asked for half the items with the same `max_tokens`,
twice the room per item, down to `max_split_depth` (`batching.split_on_truncation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from havachat.batching import Part, split_on_truncation
from havachat.errors import LlmError, LlmOutputTruncated
from havachat.ledger import CallUsage, UsageTotals
from havachat.llm_port import CacheWarmer, LlmRequest, StructuredLlm
from havachat.models import (
    BatchSpec,
    Category,
    LearningItem,
    LearningItemBatch,
    Level,
    Provenance,
    VocabItem,
    VocabKind,
)
from havachat.planning import estimate_tokens, system_prompt_tokens, tool_overhead_tokens
from havachat.postprocess import dedupe_items, finish_items
from havachat.prompts import (
    PROMPT_VERSION,
    build_request,
    build_shared_request,
    max_tokens_for_items,
    min_cacheable_tokens,
    quantity_guidance,
    words_for_category,
)

FOLLOWUP_CATEGORIES = frozenset({Category.PRONUNCIATION, Category.WRITING_SYSTEM, Category.LITERACY})
"""Categories where an item per word makes sense, so a word no item cited is worth one more call."""


@dataclass
class BatchResult:
    """What one batch produced and what it cost, including attempts that were wasted."""

    batch_id: str
    items: list[LearningItem]
    usage: UsageTotals
    dropped_unknown_words: int = 0
    dropped_duplicates: int = 0
    dropped_prompt_echoes: int = 0
    splits: int = 0
    attempts: list[CallUsage] = field(default_factory=list)
    followup_words: int = 0
    followup_error: str | None = None


class BatchGenerator(Protocol):
    """Makes the items of one batch: an LLM (`LlmBatchGenerator`) or the dictionaries (`OfflineGenerator`)."""

    @property
    def model(self) -> str: ...

    def generate_batch(
        self, spec: BatchSpec, words: Sequence[VocabItem], *, language: str, level: Level, run_id: str
    ) -> BatchResult: ...


@dataclass
class LlmBatchGenerator:
    """`generate_batch` over a `StructuredLlm`."""

    llm: StructuredLlm
    max_tokens: int
    max_split_depth: int = 3
    coverage_followup: bool = False

    @property
    def model(self) -> str:
        return self.llm.model

    def generate_batch(
        self, spec: BatchSpec, words: Sequence[VocabItem], *, language: str, level: Level, run_id: str
    ) -> BatchResult:
        return generate_batch(
            spec,
            words,
            language=language,
            level=level,
            run_id=run_id,
            llm=self.llm,
            max_tokens=self.max_tokens,
            max_split_depth=self.max_split_depth,
            coverage_followup=self.coverage_followup,
        )

    def warm(self, words: Sequence[VocabItem], *, language: str, level: Level) -> list[CallUsage]:
        """Write the cache of the prefix every category call of this chunk shares; returns its usage.

        No call ([]) when the LLM cannot warm a cache or the prefix (tools, system prompt, the chunk's
        shared block, estimated) is shorter than the model's minimum cacheable length.
        """
        if not isinstance(self.llm, CacheWarmer):
            return []
        request = build_shared_request(language, level, words)
        prefix = system_prompt_tokens() + tool_overhead_tokens() + estimate_tokens(request.shared)
        if prefix < min_cacheable_tokens(self.llm.model):
            return []
        return self.llm.warm(request)


def generate_batch(
    spec: BatchSpec,
    words: Sequence[VocabItem],
    *,
    language: str,
    level: Level,
    run_id: str,
    llm: StructuredLlm,
    max_tokens: int,
    max_split_depth: int = 3,
    coverage_followup: bool = False,
) -> BatchResult:
    """Generate the items of one batch; `words` is the batch's chunk of the vocabulary.

    The whole chunk is sent (the same shared block for every category, so it is read from the prompt
    cache), but only the entries the category may cite (`words_for_category`: no grammar points
    outside idiom and pattern) are kept as source words. With `coverage_followup`, a category of
    `FOLLOWUP_CATEGORIES` asks once more about the words no item cited; a failed follow-up keeps the
    first answer's items.
    """
    words = list(words)
    batch = _Batch.of(
        spec, words, language=language, level=level, run_id=run_id, model=llm.model, max_tokens=max_tokens
    )
    result = BatchResult(batch_id=spec.batch_id, items=[], usage=UsageTotals())
    try:
        _generate_into(result, _whole(spec, words), batch, llm, max_split_depth)
    except LlmError as failed:  # the batch's error carries every attempt it spent, earlier halves' included
        recorded = {id(attempt) for attempt in result.attempts}
        failed.usage = [*result.attempts, *(u for u in failed.usage if id(u) not in recorded)]
        raise
    if coverage_followup and spec.category in FOLLOWUP_CATEGORIES:
        _follow_up(result, words_for_category(spec.category, words), batch, llm, max_split_depth)
    return _deduplicated(result)


def first_request(
    spec: BatchSpec, words: Sequence[VocabItem], *, language: str, level: Level, max_tokens: int
) -> LlmRequest:
    """The first call `generate_batch` makes for `spec` over its chunk `words` (Message Batches mode submits it)."""
    batch = _Batch.of(spec, words, language=language, level=level, run_id="", model="", max_tokens=max_tokens)
    return _request(_whole(spec, words), batch)


def result_of_first_answer(
    spec: BatchSpec,
    words: Sequence[VocabItem],
    answer: LearningItemBatch,
    attempts: list[CallUsage],
    *,
    language: str,
    level: Level,
    run_id: str,
    model: str,
) -> BatchResult:
    """The batch's result from the answer to its `first_request`, post-processed as `generate_batch` does."""
    batch = _Batch.of(spec, words, language=language, level=level, run_id=run_id, model=model, max_tokens=0)
    result = BatchResult(batch_id=spec.batch_id, items=[], usage=UsageTotals())
    _record(result, attempts)
    _add_answer(result, answer, list(words), batch)
    return _deduplicated(result)


@dataclass(frozen=True)
class _Batch:
    """What every call of one batch shares (its halves and its follow-up included)."""

    spec: BatchSpec
    language: str
    level: Level
    provenance: Provenance
    max_tokens: int
    chunk_size: int  # a call over fewer words (half a chunk, a follow-up) shares no cached block

    @classmethod
    def of(
        cls,
        spec: BatchSpec,
        words: Sequence[VocabItem],
        *,
        language: str,
        level: Level,
        run_id: str,
        model: str,
        max_tokens: int,
    ) -> _Batch:
        provenance = Provenance(run_id=run_id, batch_id=spec.batch_id, model=model, prompt_version=PROMPT_VERSION)
        call_max_tokens = max_tokens_for_items(spec.target_items_max, max_tokens)
        return cls(spec, language, level, provenance, call_max_tokens, chunk_size=len(words))


def _whole(spec: BatchSpec, words: Sequence[VocabItem]) -> Part[VocabItem]:
    return Part(list(words), (spec.target_items_min, spec.target_items_max))


def _request(call: Part[VocabItem], batch: _Batch) -> LlmRequest:
    low, high = call.targets
    return build_request(
        batch.spec.category,
        batch.language,
        batch.level,
        call.words,
        low,
        high,
        batch.max_tokens,
        cache_words=len(call.words) == batch.chunk_size,
    )


def _add_answer(result: BatchResult, answer: LearningItemBatch, words: list[VocabItem], batch: _Batch) -> None:
    """An answer's items, post-processed against the words its call was asked about, added to `result`."""
    category = batch.spec.category
    finished = finish_items(
        answer,
        words=words_for_category(category, words),
        language=batch.language,
        level=batch.level,
        category=category,
        provenance=batch.provenance,
    )
    result.items.extend(finished.items)
    result.dropped_unknown_words += finished.dropped_unknown_words
    result.dropped_duplicates += finished.dropped_duplicates
    result.dropped_prompt_echoes += finished.dropped_prompt_echoes


def _deduplicated(result: BatchResult) -> BatchResult:
    """`result` without items repeated across its calls (halves, follow-up)."""
    result.items, cross_call_duplicates = dedupe_items(result.items)
    result.dropped_duplicates += cross_call_duplicates
    return result


def _follow_up(
    result: BatchResult, words: Sequence[VocabItem], batch: _Batch, llm: StructuredLlm, max_split_depth: int
) -> None:
    """One more call with only the words no item cited; its usage counts, its failure does not fail the batch."""
    cited = {word for item in result.items for word in item.source_words}
    missed = [w for w in words if w.kind is VocabKind.WORD and w.word not in cited]
    if not missed:
        return
    result.followup_words = len(missed)
    targets = quantity_guidance(batch.spec.category, len(missed), max_tokens=batch.max_tokens)
    try:
        _generate_into(result, Part(missed, targets), batch, llm, max_split_depth)
    except LlmError as exc:
        if not isinstance(exc, LlmOutputTruncated):  # a truncated answer's usage is recorded where it is split
            _record(result, [u for u in exc.usage if isinstance(u, CallUsage)])
        result.followup_error = type(exc).__name__


def _generate_into(
    result: BatchResult, part: Part[VocabItem], batch: _Batch, llm: StructuredLlm, max_split_depth: int
) -> None:
    """Items of `part` into `result`, a cut-off answer split by `split_on_truncation`."""

    def make(call: Part[VocabItem]) -> None:
        answer = llm.generate(_request(call, batch))
        _record(result, answer.attempts)
        _add_answer(result, answer.batch, call.words, batch)

    def on_truncated(usage: list[CallUsage], split: bool) -> None:
        _record(result, usage)
        if split:
            result.splits += 1

    split_on_truncation(make, part, max_split_depth=max_split_depth, on_truncated=on_truncated)


def _record(result: BatchResult, attempts: list[CallUsage]) -> None:
    result.attempts.extend(attempts)
    result.usage = result.usage + UsageTotals.of_call(attempts)

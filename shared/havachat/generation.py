"""One category batch end to end: prompt, structured call, post-processing, usage.

An answer cut off at `max_tokens` is not re-asked (the same prompt would be cut off again):
the chunk is halved and each half asked for half the items, down to `max_split_depth`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from havachat.errors import LlmOutputTruncated
from havachat.ledger import CallUsage, UsageTotals
from havachat.llm_port import StructuredLlm
from havachat.models import BatchSpec, LearningItem, Level, Provenance, VocabItem
from havachat.postprocess import dedupe_items, finish_items
from havachat.prompts import PROMPT_VERSION, build_request


@dataclass
class BatchResult:
    """What one batch produced and what it cost, including attempts that were wasted."""

    batch_id: str
    items: list[LearningItem]
    usage: UsageTotals
    dropped_unknown_words: int = 0
    dropped_duplicates: int = 0
    splits: int = 0
    attempts: list[CallUsage] = field(default_factory=list)


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
) -> BatchResult:
    """Generate the items of one batch; `words` is the batch's chunk of the vocabulary."""
    provenance = Provenance(run_id=run_id, batch_id=spec.batch_id, model=llm.model, prompt_version=PROMPT_VERSION)
    result = BatchResult(batch_id=spec.batch_id, items=[], usage=UsageTotals())
    _generate_into(
        result,
        words,
        (spec.target_items_min, spec.target_items_max),
        spec=spec,
        language=language,
        level=level,
        llm=llm,
        provenance=provenance,
        max_tokens=max_tokens,
        depth_left=max_split_depth,
    )
    result.items, cross_half_duplicates = dedupe_items(result.items)
    result.dropped_duplicates += cross_half_duplicates
    return result


def _generate_into(
    result: BatchResult,
    words: Sequence[VocabItem],
    targets: tuple[int, int],
    *,
    spec: BatchSpec,
    language: str,
    level: Level,
    llm: StructuredLlm,
    provenance: Provenance,
    max_tokens: int,
    depth_left: int,
) -> None:
    request = build_request(spec.category, language, level, words, targets[0], targets[1], max_tokens)
    try:
        answer = llm.generate(request)
    except LlmOutputTruncated as truncated:
        _record(result, [u for u in truncated.usage if isinstance(u, CallUsage)])
        if depth_left == 0 or len(words) < 2:
            raise
        result.splits += 1
        middle = len(words) // 2
        half_targets = (max(1, targets[0] // 2), max(1, (targets[1] + 1) // 2))
        for half in (words[:middle], words[middle:]):
            _generate_into(
                result,
                half,
                half_targets,
                spec=spec,
                language=language,
                level=level,
                llm=llm,
                provenance=provenance,
                max_tokens=max_tokens,
                depth_left=depth_left - 1,
            )
        return
    _record(result, answer.attempts)
    finished = finish_items(
        answer.batch,
        words=words,
        language=language,
        level=level,
        category=spec.category,
        provenance=provenance,
    )
    result.items.extend(finished.items)
    result.dropped_unknown_words += finished.dropped_unknown_words
    result.dropped_duplicates += finished.dropped_duplicates


def _record(result: BatchResult, attempts: list[CallUsage]) -> None:
    result.attempts.extend(attempts)
    result.usage = result.usage + UsageTotals.of_call(attempts)

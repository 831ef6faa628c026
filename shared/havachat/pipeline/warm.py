"""WarmCache: before the batches fan out, one one-token call per chunk writes the prompt cache they read.

The categories of a chunk share their prompt up to the chunk's vocabulary (`havachat.prompts`), and a
cache entry is readable only once the call that writes it has its first token out. Without this step
the Map's first wave would send every category of a chunk at once and each would write (and pay for)
the same entry. A chunk is warmed only when at least two of its batches still have no output (a
resumed or reused run does not pay again) and its shared prefix reaches the model's minimum cacheable
length; the offline generator warms nothing. Warming is best effort: a failed warm-up is logged in
the result and the batches run anyway (each then writes its own entry, as before).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from pydantic import BaseModel

from havachat.concurrency import map_concurrently
from havachat.errors import LlmError
from havachat.generation import BatchGenerator, LlmBatchGenerator
from havachat.ledger import CallUsage, UsageTotals
from havachat.models import BatchSpec, Level, VocabList
from havachat.pipeline.contracts import CACHE_WARM, WarmOutput
from havachat.pipeline.keys import RunKeys
from havachat.pipeline.ports import BatchMetricsSink, Store

WARM_CONCURRENCY = 32
"""Warm-up calls in flight at once: each asks for one output token, so they are short and light."""


class WarmInput(BaseModel):
    """The WarmCache task's payload (under `warm_cache` in the GenerateBatch function's event)."""

    run_id: str
    language: str
    level: Level


def warm_step(
    warm_input: WarmInput,
    store: Store,
    make_generator: Callable[[], BatchGenerator],
    metrics_sink: BatchMetricsSink,
    *,
    concurrency: int = WARM_CONCURRENCY,
) -> WarmOutput:
    """Warm the prompt cache of every chunk with two or more batches still to run; returns what it cost."""
    keys = RunKeys(warm_input.run_id)
    generator = make_generator()
    if not isinstance(generator, LlmBatchGenerator):
        return WarmOutput(run_id=warm_input.run_id)
    by_chunk: dict[int, list[BatchSpec]] = defaultdict(list)
    for spec in (BatchSpec.model_validate(b) for b in store.get_json(keys.manifest) or []):
        by_chunk[spec.chunk_index].append(spec)

    def pending_at_least_two(specs: list[BatchSpec]) -> bool:
        pending = 0
        for spec in specs:
            pending += store.get_json(keys.batch_output(spec.batch_id)) is None
            if pending == 2:
                return True
        return False

    def warm(chunk_index: int) -> tuple[list[CallUsage], str | None] | None:
        if not pending_at_least_two(by_chunk[chunk_index]):
            return None
        words = VocabList.model_validate(store.get_json(keys.chunk(chunk_index))).items
        try:
            usage = generator.warm(words, language=warm_input.language, level=warm_input.level)
        except LlmError as exc:
            return [u for u in exc.usage if isinstance(u, CallUsage)], f"chunk {chunk_index}: {type(exc).__name__}"
        return (usage, None) if usage else None

    outcomes = [o for o in map_concurrently(warm, sorted(by_chunk), max(1, concurrency)) if o is not None]
    output = WarmOutput(
        run_id=warm_input.run_id,
        chunks_warmed=sum(1 for _, error in outcomes if error is None),
        failed=[error for _, error in outcomes if error is not None],
        usage=UsageTotals.total(UsageTotals.of_call(usage) for usage, _ in outcomes),
    )
    if outcomes:
        store.put_json(keys.cache_warm, output.model_dump(mode="json"))
        metrics_sink.record(
            category=CACHE_WARM, model=generator.model, usage=output.usage, items=0, failed=bool(output.failed)
        )
    return output

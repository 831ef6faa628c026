"""GenerateBatch: one category batch over one chunk, its items written to S3, its usage to metrics.

Idempotent: an existing batch output is returned without calling the LLM again.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from havachat.cost_cap import check_spend
from havachat.errors import LlmError
from havachat.generation import BatchGenerator, BatchResult
from havachat.ledger import CallUsage, UsageTotals
from havachat.models import OFFLINE_MODEL, ReadingStatus, VocabList
from havachat.pipeline.contracts import BatchError, BatchInput, BatchOutput, BatchRecord, WarmOutput, now_iso
from havachat.pipeline.keys import RunKeys
from havachat.pipeline.ports import BatchMetricsSink, Runs, Store
from havachat.readings import flag_readings

UNCONFIGURED_MODEL = "unconfigured"
"""The metrics' model of a batch whose generator could not be made (e.g. no API key)."""


def generate_step(
    batch_input: BatchInput,
    store: Store,
    make_generator: Callable[[], BatchGenerator],
    metrics_sink: BatchMetricsSink,
    *,
    runs: Runs | None = None,
) -> BatchOutput:
    """Generate one batch and write its items to S3; returns counts and usage.

    `make_generator` gives Claude (`LlmBatchGenerator`) or the `OfflineGenerator`; it is called
    only when the batch has no output yet, inside the error handling, so a missing API key is
    recorded as the batch's error like any other. The examples' romanization is checked against
    the dictionary (`havachat.readings`) and the flags stored on the items.

    Idempotent: an existing output is returned without an LLM call. On failure the error (with
    the usage it wasted) is written to the batch's error key, then re-raised so Step Functions
    can retry the named error or catch it.

    With a cost cap (`batch_input.max_cost_usd`) the run's spend is read from `runs` before the call,
    and a spend at the cap fails the batch with `CostCapReached` without a call; the batch's cost
    (or what a failure wasted) is then added to the spend. Without a cap `runs` is not used.
    """
    spec = batch_input.batch
    keys = RunKeys(batch_input.run_id)
    existing = store.get_json(keys.batch_output(spec.batch_id))
    if existing is not None:
        return BatchRecord.model_validate(existing).output

    words = VocabList.model_validate(store.get_json(keys.chunk(spec.chunk_index))).items
    cap = batch_input.max_cost_usd
    if cap and runs is None:
        raise ValueError("a cost cap needs the runs table (runs=) to count the run's spend")
    spend = runs if cap else None  # where the batch's cost is counted, only under a cap
    generator: BatchGenerator | None = None
    try:
        if spend is not None and cap:
            record = spend.get(batch_input.run_id)
            check_spend((record.spent_usd or 0.0) if record else 0.0, cap)
        generator = make_generator()
        result = generator.generate_batch(
            spec, words, language=batch_input.language, level=batch_input.level, run_id=batch_input.run_id
        )
    except Exception as exc:
        wasted = [u for u in exc.usage if isinstance(u, CallUsage)] if isinstance(exc, LlmError) else []
        usage = UsageTotals.of_call(wasted)
        error = BatchError(
            batch_id=spec.batch_id,
            category=spec.category,
            error_type=type(exc).__name__,
            message=str(exc)[:2000] or "".join(traceback.format_exception_only(exc)).strip(),
            usage=usage,
            at=now_iso(),
        )
        if spend is not None and usage.cost_usd:
            spend.add_spend(batch_input.run_id, usage.cost_usd)
        store.put_json(keys.batch_error(spec.batch_id), error.model_dump(mode="json"))
        model = generator.model if generator is not None else UNCONFIGURED_MODEL
        metrics_sink.record(category=spec.category.value, model=model, usage=usage, items=0, failed=True)
        raise

    return write_batch_output(batch_input, result, generator.model, store, metrics_sink, spend=spend)


def write_batch_output(
    batch_input: BatchInput,
    result: BatchResult,
    model: str,
    store: Store,
    metrics_sink: BatchMetricsSink,
    *,
    spend: Runs | None = None,
) -> BatchOutput:
    """A generated batch's items, their readings checked, written as its output; its cost added to `spend`.

    Shared by `generate_step` and the Message Batch's collection (`havachat.pipeline.message_batch`).
    """
    spec = batch_input.batch
    keys = RunKeys(batch_input.run_id)
    if spend is not None and result.usage.cost_usd:  # before the output: a retry after a failed write spends again
        spend.add_spend(batch_input.run_id, result.usage.cost_usd)
    items = flag_readings(result.items, batch_input.language)
    flags = [flag.status for item in items for flag in item.reading_flags]
    output = BatchOutput(
        run_id=batch_input.run_id,
        batch_id=spec.batch_id,
        category=spec.category,
        item_count=len(items),
        usage=result.usage,
        dropped_unknown_words=result.dropped_unknown_words,
        dropped_duplicates=result.dropped_duplicates,
        dropped_prompt_echoes=result.dropped_prompt_echoes,
        splits=result.splits,
        generator=model if model == OFFLINE_MODEL else "llm",
        reading_mismatches=flags.count(ReadingStatus.MISMATCH),
        reading_ambiguous=flags.count(ReadingStatus.AMBIGUOUS),
        followup_words=result.followup_words,
        followup_error=result.followup_error,
    )
    store.put_json(
        keys.batch_output(spec.batch_id),
        BatchRecord(output=output, items=items).model_dump(mode="json"),
    )
    metrics_sink.record(
        category=spec.category.value,
        model=model,
        usage=result.usage,
        items=len(result.items),
        failed=False,
    )
    return output


def warm_within_cap(run_id: str, runs: Runs, warm: Callable[[], WarmOutput]) -> WarmOutput:
    """`warm()` (the cache warm-up) under the run's cost cap, read from its record: skipped once the
    spend has reached the cap, its cost added to the spend. Without a cap, `warm()` as it is."""
    record = runs.get(run_id)
    cap = record.max_cost_usd if record else None
    if record is not None and cap and (record.spent_usd or 0.0) >= cap:
        return WarmOutput(run_id=run_id, failed=[f"CostCapReached: the run's cost cap of ${cap:.2f} was reached"])
    warmed = warm()
    if cap and warmed.usage.cost_usd:
        runs.add_spend(run_id, warmed.usage.cost_usd)
    return warmed

"""GenerateBatch: one category batch over one chunk, its items written to S3, its usage to metrics.

Idempotent: an existing batch output is returned without calling the LLM again.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from havachat.errors import LlmError
from havachat.generation import BatchGenerator
from havachat.ledger import CallUsage, UsageTotals
from havachat.models import OFFLINE_MODEL, ReadingStatus, VocabList
from havachat.pipeline.contracts import BatchError, BatchInput, BatchOutput, BatchRecord, now_iso
from havachat.pipeline.keys import RunKeys
from havachat.pipeline.ports import BatchMetricsSink, Store
from havachat.readings import flag_readings

UNCONFIGURED_MODEL = "unconfigured"
"""The metrics' model of a batch whose generator could not be made (e.g. no API key)."""


def generate_step(
    batch_input: BatchInput,
    store: Store,
    make_generator: Callable[[], BatchGenerator],
    metrics_sink: BatchMetricsSink,
) -> BatchOutput:
    """Generate one batch and write its items to S3; returns counts and usage.

    `make_generator` gives Claude (`LlmBatchGenerator`) or the `OfflineGenerator`; it is called
    only when the batch has no output yet, inside the error handling, so a missing API key is
    recorded as the batch's error like any other. The examples' romanization is checked against
    the dictionary (`havachat.readings`) and the flags stored on the items.

    Idempotent: an existing output is returned without an LLM call. On failure the error (with
    the usage it wasted) is written to the batch's error key, then re-raised so Step Functions
    can retry the named error or catch it.
    """
    spec = batch_input.batch
    keys = RunKeys(batch_input.run_id)
    existing = store.get_json(keys.batch_output(spec.batch_id))
    if existing is not None:
        return BatchRecord.model_validate(existing).output

    words = VocabList.model_validate(store.get_json(keys.chunk(spec.chunk_index))).items
    generator: BatchGenerator | None = None
    try:
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
        store.put_json(keys.batch_error(spec.batch_id), error.model_dump(mode="json"))
        model = generator.model if generator is not None else UNCONFIGURED_MODEL
        metrics_sink.record(category=spec.category.value, model=model, usage=usage, items=0, failed=True)
        raise

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
        generator=generator.model if generator.model == OFFLINE_MODEL else "llm",
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
        model=generator.model,
        usage=result.usage,
        items=len(result.items),
        failed=False,
    )
    return output

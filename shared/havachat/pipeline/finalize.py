"""Finalize: merge the batch outputs into the run's results, complete the run record, publish the event.

Idempotent: a retry rewrites the same objects and items under the same keys. `finalize_request` is
what the Finalize handler calls: it finishes a run once per execution (`finish_run`, which the
handler makes idempotent through Powertools, so a retry after success publishes nothing again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from havachat.concurrency import map_concurrently
from havachat.ledger import UsageTotals
from havachat.models import OFFLINE_MODEL, BatchSpec, Category, LearningItem, RunPlan, VocabList
from havachat.pipeline.contracts import (
    CACHE_WARM,
    GENERATED,
    GENERATION_FAILED,
    MESSAGE_BATCH,
    BatchError,
    BatchRecord,
    FailedBatch,
    FinalizeOutput,
    FinalizeRequest,
    MessageBatchRecord,
    OutputLocation,
    RunRecord,
    RunStatus,
    RunSummary,
    S3Object,
    WarmOutput,
    now_iso,
)
from havachat.pipeline.keys import RunKeys, list_catalog_key
from havachat.pipeline.ports import Events, FinalizeReport, Items, Runs, Store
from havachat.postprocess import CatalogEntry, coverage, dedupe_items, match_catalog, merge_similar
from havachat.readings import summarise_readings


def finish_run(
    request: FinalizeRequest, *, store: Store, runs: Runs, items: Items, events: Events, report: FinalizeReport
) -> FinalizeOutput:
    """`finalize_step` for the request's run (with its failure, on the failure path), reported."""
    summary = finalize_step(
        request.run_id, store, runs, items, events, failure=request.failure, source=request.source()
    )
    report.finished(summary)
    return FinalizeOutput.of(summary)


class RunFinisher(Protocol):
    """`finish_run`, or `finish_run` run once per run, execution and path (success or failure)."""

    def __call__(
        self,
        *,
        request: FinalizeRequest,
        store: Store,
        runs: Runs,
        items: Items,
        events: Events,
        report: FinalizeReport,
    ) -> FinalizeOutput: ...


def finalize_request(
    request: FinalizeRequest,
    *,
    store: Store,
    runs: Runs,
    items: Items,
    events: Events,
    report: FinalizeReport,
    finish_once: RunFinisher = finish_run,
) -> FinalizeOutput:
    """Finish the request's run, once per execution (`finish_once`); without an execution id
    (`sam local invoke`) every call finishes it.

    A failure from an execution that does not own the run (a duplicate execution's) is not the
    run's: it is not recorded.
    """
    if request.failure is not None and request.execution_id:
        record = runs.get(request.run_id)
        if record is not None and record.owner != request.execution_id:
            report.failure_not_recorded(record)
            return FinalizeOutput(run_id=request.run_id, status=record.status, recorded=False)
    finish = finish_once if request.execution_id else finish_run
    return finish(request=request, store=store, runs=runs, items=items, events=events, report=report)


def finalize_step(
    run_id: str,
    store: Store,
    runs: Runs,
    items: Items,
    events: Events,
    failure: dict[str, Any] | None = None,
    source: S3Object | None = None,
    read_concurrency: int = 16,
) -> RunSummary:
    """Merge the batch outputs into the run's results, complete the run record and publish the event.

    With `failure` (the state machine's failure path) the run is recorded FAILED with that error.
    Batches without an output are failed batches, reported with their last stored error. Items are
    de-duplicated, merged by feature across chunks, matched against the list's catalog of earlier
    runs (`list_catalog_key`), and the summary reports coverage, reading checks and intake warnings.
    """
    keys = RunKeys(run_id)
    record = runs.get(run_id)
    input_object = record.input if record else source
    if input_object is None:
        raise ValueError(f"run {run_id} has no record and no input object was given")
    if record is None:  # Plan failed before recording the run: record it now so the failure is visible
        now = now_iso()
        runs.create(
            RunRecord(
                run_id=run_id,
                status=RunStatus.FAILED,
                owner="finalize",
                input=input_object,
                created_at=now,
                updated_at=now,
            )
        )
    output = OutputLocation(bucket=store.bucket, items_key=keys.items, summary_key=keys.summary)
    plan_data = store.get_json(keys.plan)
    plan = RunPlan.model_validate(plan_data) if plan_data is not None else None

    if failure is not None or plan is None:
        summary = RunSummary(
            run_id=run_id,
            status=RunStatus.FAILED,
            input=input_object,
            output=output,
            language=plan.language if plan else (record.language if record else None),
            level=str(plan.level) if plan else (record.level if record else None),
            batch_count=len(plan.batches) if plan else 0,
            problems=(record.problems or []) if record else [],
            error=failure or {"Error": "MissingPlan", "Cause": f"no plan at {keys.plan}"},
            finished_at=now_iso(),
        )
        return _complete(summary, store, runs, events)

    batch_specs = plan.batches
    records = map_concurrently(lambda b: store.get_json(keys.batch_output(b.batch_id)), batch_specs, read_concurrency)

    all_items: list[LearningItem] = []
    usage_by_category: dict[str, UsageTotals] = {}
    failed_specs: list[BatchSpec] = []
    for spec, data in zip(batch_specs, records, strict=True):
        if data is None:
            failed_specs.append(spec)
            continue
        batch = BatchRecord.model_validate(data)
        all_items.extend(batch.items)
        _add_usage(usage_by_category, spec.category.value, batch.output.usage)

    failed_batches = _failed_batches(failed_specs, store, keys, usage_by_category, read_concurrency)
    warmed = store.get_json(RunKeys(run_id).cache_warm)  # the prompt-cache warm-up's calls cost too
    if warmed is not None:
        _add_usage(usage_by_category, CACHE_WARM, WarmOutput.model_validate(warmed).usage)
    message_batch = store.get_json(RunKeys(run_id).message_batch)  # billed batch answers that wrote no output
    if message_batch is not None and (wasted := MessageBatchRecord.model_validate(message_batch).wasted_usage).calls:
        _add_usage(usage_by_category, MESSAGE_BATCH, wasted)
    unique, duplicates = dedupe_items(all_items)
    unique, merged = merge_similar(unique)
    catalog_key = list_catalog_key(input_object)
    catalog = [CatalogEntry.model_validate(e) for e in (store.get_json(catalog_key) or {}).get("entries", [])]
    unique, updated_catalog, from_earlier_runs = match_catalog(unique, catalog, run_id)
    store.put_jsonl(keys.items, (item.model_dump(mode="json") for item in unique))
    items.put_items(run_id, unique)
    store.put_json(catalog_key, {"entries": [e.model_dump(mode="json") for e in updated_catalog]})
    vocab = VocabList.model_validate(store.get_json(keys.vocab))
    planned = list(dict.fromkeys(b.category for b in batch_specs))

    counts: dict[str, int] = {}
    for item in unique:
        counts[item.category.value] = counts.get(item.category.value, 0) + 1
    succeeded = len(batch_specs) - len(failed_batches)
    status, error = run_outcome(failed_batches, succeeded, len(unique))
    total = UsageTotals.total(usage_by_category.values())
    summary = RunSummary(
        run_id=run_id,
        status=status,
        input=input_object,
        output=output,
        language=plan.language,
        level=str(plan.level),
        model=plan.model,
        prompt_version=plan.prompt_version,
        word_count=plan.word_count,
        batch_count=len(batch_specs),
        succeeded_batches=succeeded,
        items_total=len(unique),
        duplicates_removed=duplicates,
        merged_similar=merged,
        merged_with_earlier_runs=from_earlier_runs,
        counts_by_category=counts,
        coverage=coverage(vocab.items, unique, planned),
        readings=summarise_readings(unique, vocab.items, plan.language),
        generator=OFFLINE_MODEL if plan.model == OFFLINE_MODEL else "llm",
        categories_needing_llm=[c.value for c in Category if c not in planned] if plan.model == OFFLINE_MODEL else [],
        usage=total,
        usage_by_category=usage_by_category,
        cost_usd=round(total.cost_usd, 6),
        failed_batches=failed_batches,
        error=error,
        reused_from=record.reused_from if record else None,
        finished_at=now_iso(),
        warnings=vocab.warnings,
    )
    return _complete(summary, store, runs, events)


def run_outcome(
    failed: Sequence[FailedBatch], succeeded: int, items_kept: int
) -> tuple[RunStatus, dict[str, str] | None]:
    """SUCCEEDED, PARTIAL (some batches failed), or FAILED with its cause: every batch failed, or none kept an item.

    The cause of a run whose batches all failed is their most common error (a missing API key fails
    them all alike), so the run record and the failure event name it.
    """
    if succeeded == 0 and failed:
        error_type, count = Counter(b.error_type for b in failed).most_common(1)[0]
        example = next(b for b in failed if b.error_type == error_type)
        cause = f"every batch failed ({count} of {len(failed)} with {error_type}): {example.message}"
        return RunStatus.FAILED, {"Error": error_type, "Cause": cause[:2000]}
    if items_kept == 0:
        return RunStatus.FAILED, {"Error": "NoItems", "Cause": "the batches finished but kept no item"}
    return (RunStatus.PARTIAL if failed else RunStatus.SUCCEEDED), None


def _failed_batches(
    specs: Sequence[BatchSpec],
    store: Store,
    keys: RunKeys,
    usage_by_category: dict[str, UsageTotals],
    read_concurrency: int,
) -> list[FailedBatch]:
    errors = map_concurrently(lambda b: store.get_json(keys.batch_error(b.batch_id)), specs, read_concurrency)
    failed: list[FailedBatch] = []
    for spec, data in zip(specs, errors, strict=True):
        if data is None:
            failed.append(
                FailedBatch(
                    batch_id=spec.batch_id,
                    category=spec.category,
                    error_type="NoOutput",
                    message="the batch left no output and no error (timed out or crashed)",
                )
            )
            continue
        error = BatchError.model_validate(data)
        _add_usage(usage_by_category, spec.category.value, error.usage)  # wasted tokens still cost
        failed.append(
            FailedBatch(
                batch_id=spec.batch_id,
                category=spec.category,
                error_type=error.error_type,
                message=error.message,
            )
        )
    return failed


def _add_usage(by_category: dict[str, UsageTotals], category: str, usage: UsageTotals) -> None:
    by_category[category] = by_category.get(category, UsageTotals()) + usage


def _complete(summary: RunSummary, store: Store, runs: Runs, events: Events) -> RunSummary:
    store.put_json(summary.output.summary_key, summary.model_dump(mode="json"))
    runs.update(
        summary.run_id,
        status=summary.status.value,
        items_total=summary.items_total,
        cost_usd=summary.cost_usd,
        summary_key=summary.output.summary_key,
        error=summary.error,
        updated_at=summary.finished_at,
    )
    detail_type = GENERATION_FAILED if summary.status is RunStatus.FAILED else GENERATED
    events.publish(detail_type, summary.event_detail())
    return summary

"""The three steps of the serverless pipeline (Plan, GenerateBatch, Finalize) as plain functions over ports.

No boto3 and no LLM SDK here: S3, DynamoDB, EventBridge, metrics and the LLM come in as small
objects matching the Protocols below (`havachat.aws.*` on AWS and in the local runner, fakes in
unit tests). Every step is idempotent so Step Functions may retry it:

- Plan: the run id is derived from the object version, the run record is created with a
  conditional put, and the execution that created it owns it (its own retries go on, any other
  execution for the same object version is a duplicate and stops).
- GenerateBatch: an existing batch output is returned without calling the LLM again.
- Finalize: rewrites the same objects and items under the same keys.
"""

from __future__ import annotations

import hashlib
import re
import traceback
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field

from havachat.errors import InvalidVocabFile, LlmError, VocabProblem
from havachat.generation import generate_batch
from havachat.ledger import CallUsage, UsageTotals
from havachat.llm_port import StructuredLlm
from havachat.models import BatchSpec, Category, LearningItem, Level, RunPlan, VocabList
from havachat.planning import plan_with_settings
from havachat.postprocess import dedupe_items
from havachat.settings import Settings
from havachat.vocab import VocabLimits, context_from_key, parse_vocab

GENERATED = "LearningItemsGenerated"
GENERATION_FAILED = "LearningItemsGenerationFailed"
EVENT_FAILED_BATCHES_SHOWN = 50  # the full list is in run.json; events stay far below 256 KB


# --------------------------------------------------------------------------------------------------
# S3 layout
# --------------------------------------------------------------------------------------------------


class RunKeys:
    """Where a run's objects live in the data bucket."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    @property
    def vocab(self) -> str:
        return f"scratch/{self.run_id}/vocab.json"

    @property
    def plan(self) -> str:
        return f"scratch/{self.run_id}/plan.json"

    @property
    def manifest(self) -> str:
        return f"scratch/{self.run_id}/batches.json"

    def batch_output(self, batch_id: str) -> str:
        return f"scratch/{self.run_id}/batches/{batch_id}.json"

    def batch_error(self, batch_id: str) -> str:
        return f"scratch/{self.run_id}/errors/{batch_id}.json"

    @property
    def items(self) -> str:
        return f"results/{self.run_id}/items.jsonl"

    @property
    def summary(self) -> str:
        return f"results/{self.run_id}/run.json"


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


class RunStatus(StrEnum):
    PLANNING = "PLANNING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"


class S3Object(BaseModel):
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None


class RunRecord(BaseModel):
    """The run's row in the runs table."""

    run_id: str
    status: RunStatus
    owner: str = Field(description="Who created the run: the Step Functions execution (or the event id)")
    input: S3Object
    created_at: str
    updated_at: str
    language: str | None = None
    level: str | None = None
    batch_count: int | None = None
    problems: list[str] | None = None
    error: dict[str, Any] | None = None
    items_total: int | None = None
    cost_usd: float | None = None
    summary_key: str | None = None


class PlanOutput(BaseModel):
    """What Plan returns to the state machine: keys and small descriptors only."""

    run_id: str
    duplicate: bool = False
    status: RunStatus
    manifest_key: str | None = None
    batch_count: int = 0
    language: str | None = None
    level: Level | None = None


class BatchInput(BaseModel):
    """One Map iteration: the run's context plus one descriptor from the manifest."""

    run_id: str
    language: str
    level: Level
    batch: BatchSpec


class BatchOutput(BaseModel):
    """What GenerateBatch returns: counts and usage, never the items."""

    run_id: str
    batch_id: str
    category: Category
    status: str = "SUCCEEDED"
    item_count: int
    usage: UsageTotals
    dropped_unknown_words: int = 0
    dropped_duplicates: int = 0
    splits: int = 0


class BatchRecord(BaseModel):
    """`scratch/<run_id>/batches/<batch_id>.json`: a finished batch's output with its items."""

    output: BatchOutput
    items: list[LearningItem]


class BatchError(BaseModel):
    """`scratch/<run_id>/errors/<batch_id>.json`: the last error of a batch."""

    batch_id: str
    category: Category
    error_type: str
    message: str
    usage: UsageTotals = Field(default_factory=UsageTotals)
    at: str


class FailedBatch(BaseModel):
    batch_id: str
    category: Category
    error_type: str
    message: str


class OutputLocation(BaseModel):
    bucket: str
    items_key: str
    summary_key: str


class RunSummary(BaseModel):
    """`results/<run_id>/run.json` and, trimmed, the completion event's detail."""

    run_id: str
    status: RunStatus
    input: S3Object
    output: OutputLocation
    language: str | None = None
    level: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    word_count: int = 0
    batch_count: int = 0
    succeeded_batches: int = 0
    items_total: int = 0
    duplicates_removed: int = 0
    counts_by_category: dict[str, int] = Field(default_factory=dict)
    usage: UsageTotals = Field(default_factory=UsageTotals)
    usage_by_category: dict[str, UsageTotals] = Field(default_factory=dict)
    cost_usd: float = 0.0
    failed_batches: list[FailedBatch] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    error: dict[str, Any] | None = None
    finished_at: str

    def event_detail(self) -> dict[str, Any]:
        """The completion event's detail: everything but the per-category usage, failed batches capped."""
        detail = self.model_dump(mode="json", exclude={"usage_by_category", "failed_batches", "problems"})
        detail["token_usage"] = {
            "input": self.usage.input_tokens,
            "output": self.usage.output_tokens,
            "cache_write": self.usage.cache_write_tokens,
            "cache_read": self.usage.cache_read_tokens,
        }
        detail["failed_batch_count"] = len(self.failed_batches)
        detail["failed_batches"] = [b.model_dump(mode="json") for b in self.failed_batches[:EVENT_FAILED_BATCHES_SHOWN]]
        detail["problems"] = self.problems[:EVENT_FAILED_BATCHES_SHOWN]
        return detail


# --------------------------------------------------------------------------------------------------
# Ports
# --------------------------------------------------------------------------------------------------


class Store(Protocol):
    bucket: str

    def get_json(self, key: str) -> Any | None: ...
    def put_json(self, key: str, value: Any) -> None: ...
    def put_jsonl(self, key: str, rows: Iterable[Any]) -> None: ...


class Runs(Protocol):
    def create(self, record: RunRecord) -> RunRecord | None: ...
    def get(self, run_id: str) -> RunRecord | None: ...
    def update(self, run_id: str, **fields: Any) -> None: ...


class Items(Protocol):
    def put_items(self, run_id: str, items: Iterable[LearningItem]) -> int: ...


class Events(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class BatchMetricsSink(Protocol):
    def record(self, *, category: str, model: str, usage: UsageTotals, items: int, failed: bool) -> None: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_id_for(bucket: str, key: str, version_or_etag: str | None) -> str:
    """Deterministic: the same object version always maps to the same run."""
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:40] or "vocab"
    digest = hashlib.sha256(f"{bucket}\x00{key}\x00{version_or_etag or ''}".encode()).hexdigest()[:12]
    return f"{slug}-{digest}"


# --------------------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------------------


def plan_step(
    source: S3Object,
    data: bytes,
    *,
    owner: str,
    store: Store,
    runs: Runs,
    settings: Settings,
) -> PlanOutput:
    """Validate the vocab, decide the batches, write vocab/plan/manifest to S3 and record the run.

    A different owner's run for the same object version makes this a duplicate. A bad file is
    recorded as a FAILED run with its problems and raised as `InvalidVocabFile`.
    """
    run_id = run_id_for(source.bucket, source.key, source.version_id or source.etag)
    now = _now()
    record = RunRecord(
        run_id=run_id, status=RunStatus.PLANNING, owner=owner, input=source, created_at=now, updated_at=now
    )
    existing = runs.create(record)
    if existing is not None and existing.owner != owner:
        return PlanOutput(run_id=run_id, duplicate=True, status=existing.status)

    keys = RunKeys(run_id)
    try:
        vocab, language, level = _read_vocab(source, data, settings)
        try:
            plan = plan_with_settings(vocab, settings, run_id=run_id, language=language, level=level)
        except ValueError as exc:  # nothing to plan
            raise InvalidVocabFile([VocabProblem(source.key, str(exc))]) from exc
    except InvalidVocabFile as exc:
        runs.update(run_id, status=RunStatus.FAILED.value, problems=[str(p) for p in exc.problems], updated_at=_now())
        raise

    store.put_json(keys.vocab, vocab.model_dump(mode="json"))
    store.put_json(keys.plan, plan.model_dump(mode="json"))
    store.put_json(keys.manifest, [b.model_dump(mode="json") for b in plan.batches])
    runs.update(
        run_id,
        status=RunStatus.RUNNING.value,
        language=language,
        level=str(level),
        batch_count=len(plan.batches),
        updated_at=_now(),
    )
    return PlanOutput(
        run_id=run_id,
        status=RunStatus.RUNNING,
        manifest_key=keys.manifest,
        batch_count=len(plan.batches),
        language=language,
        level=level,
    )


def _read_vocab(source: S3Object, data: bytes, settings: Settings) -> tuple[VocabList, str, Level]:
    """The parsed vocab with its language and level (from the key, else the JSON envelope)."""
    context = context_from_key(source.key)
    vocab = parse_vocab(data, source.key, VocabLimits.from_settings(settings))
    language = context.language or vocab.language
    level = context.level or vocab.level
    if not language or level is None:
        problem = "no level given: use uploads/<language>/<level>/<name> or a JSON envelope with a level"
        raise InvalidVocabFile([VocabProblem(source.key, problem)])
    return vocab, language, level


# --------------------------------------------------------------------------------------------------
# GenerateBatch
# --------------------------------------------------------------------------------------------------


def generate_step(
    batch_input: BatchInput,
    store: Store,
    llm: StructuredLlm,
    metrics_sink: BatchMetricsSink,
    settings: Settings,
) -> BatchOutput:
    """Generate one batch and write its items to S3; returns counts and usage.

    Idempotent: an existing output is returned without an LLM call. On failure the error (with
    the usage it wasted) is written to the batch's error key, then re-raised so Step Functions
    can retry the named error or catch it.
    """
    spec = batch_input.batch
    keys = RunKeys(batch_input.run_id)
    existing = store.get_json(keys.batch_output(spec.batch_id))
    if existing is not None:
        return BatchRecord.model_validate(existing).output

    vocab = VocabList.model_validate(store.get_json(keys.vocab))
    words = vocab.items[spec.word_start : spec.word_end]
    try:
        result = generate_batch(
            spec,
            words,
            language=batch_input.language,
            level=batch_input.level,
            run_id=batch_input.run_id,
            llm=llm,
            max_tokens=settings.max_tokens,
            max_split_depth=settings.max_split_depth,
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
            at=_now(),
        )
        store.put_json(keys.batch_error(spec.batch_id), error.model_dump(mode="json"))
        metrics_sink.record(category=spec.category.value, model=llm.model, usage=usage, items=0, failed=True)
        raise

    output = BatchOutput(
        run_id=batch_input.run_id,
        batch_id=spec.batch_id,
        category=spec.category,
        item_count=len(result.items),
        usage=result.usage,
        dropped_unknown_words=result.dropped_unknown_words,
        dropped_duplicates=result.dropped_duplicates,
        splits=result.splits,
    )
    store.put_json(
        keys.batch_output(spec.batch_id),
        BatchRecord(output=output, items=result.items).model_dump(mode="json"),
    )
    metrics_sink.record(
        category=spec.category.value,
        model=llm.model,
        usage=result.usage,
        items=len(result.items),
        failed=False,
    )
    return output


# --------------------------------------------------------------------------------------------------
# Finalize
# --------------------------------------------------------------------------------------------------


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
    Batches without an output are failed batches, reported with their last stored error.
    """
    keys = RunKeys(run_id)
    record = runs.get(run_id)
    input_object = record.input if record else source
    if input_object is None:
        raise ValueError(f"run {run_id} has no record and no input object was given")
    if record is None:  # Plan failed before recording the run: record it now so the failure is visible
        now = _now()
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
            finished_at=_now(),
        )
        return _complete(summary, store, runs, events)

    batch_specs = plan.batches
    with ThreadPoolExecutor(max_workers=read_concurrency) as pool:
        records = list(pool.map(lambda b: store.get_json(keys.batch_output(b.batch_id)), batch_specs))

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
    unique, duplicates = dedupe_items(all_items)
    store.put_jsonl(keys.items, (item.model_dump(mode="json") for item in unique))
    items.put_items(run_id, unique)

    counts: dict[str, int] = {}
    for item in unique:
        counts[item.category.value] = counts.get(item.category.value, 0) + 1
    succeeded = len(batch_specs) - len(failed_batches)
    if not failed_batches:
        status = RunStatus.SUCCEEDED
    elif succeeded > 0:
        status = RunStatus.PARTIAL
    else:
        status = RunStatus.FAILED
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
        counts_by_category=counts,
        usage=total,
        usage_by_category=usage_by_category,
        cost_usd=round(total.cost_usd, 6),
        failed_batches=failed_batches,
        finished_at=_now(),
    )
    return _complete(summary, store, runs, events)


def _failed_batches(
    specs: Sequence[BatchSpec],
    store: Store,
    keys: RunKeys,
    usage_by_category: dict[str, UsageTotals],
    read_concurrency: int,
) -> list[FailedBatch]:
    with ThreadPoolExecutor(max_workers=read_concurrency) as pool:
        errors = list(pool.map(lambda b: store.get_json(keys.batch_error(b.batch_id)), specs))
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

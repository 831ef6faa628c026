"""The three steps of the serverless pipeline (Plan, GenerateBatch, Finalize) as plain functions over ports.

No boto3 and no LLM SDK here: S3, DynamoDB, EventBridge, metrics and the LLM come in as small
objects matching the Protocols below (`havachat.aws.*` on AWS and in the local runner, fakes in
unit tests). Every step is idempotent so Step Functions may retry it:

- Plan: the run id is derived from the object version, the run record is created with a
  conditional put, and the execution that created it owns it (its own retries go on, any other
  execution for the same object version is a duplicate and stops). Content already generated
  with the same model, prompt and settings is reused instead of generated again, and a PARTIAL
  or FAILED run can be resumed (`resume_step`): only the batches without output run again.
- GenerateBatch: an existing batch output is returned without calling the LLM again.
- Finalize: rewrites the same objects and items under the same keys.
"""

from __future__ import annotations

import hashlib
import json
import re
import traceback
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field

from havachat.errors import InvalidVocabFile, LlmError, VocabProblem
from havachat.generation import BatchGenerator, as_generator
from havachat.ledger import CallUsage, UsageTotals
from havachat.llm_port import StructuredLlm
from havachat.models import BatchSpec, Category, LearningItem, Level, ReadingStatus, RunPlan, VocabList
from havachat.offline import OFFLINE_MODEL
from havachat.planning import plan_with_settings
from havachat.postprocess import CatalogEntry, Coverage, coverage, dedupe_items, match_catalog, merge_similar
from havachat.readings import ReadingsSummary, fill_romanization, flag_readings, summarise_readings
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

    def chunk(self, chunk_index: int) -> str:
        """One chunk's slice of the vocabulary: a batch reads only its own words, not the whole list."""
        return f"scratch/{self.run_id}/chunks/{chunk_index:04d}.json"

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


def list_catalog_key(source: S3Object) -> str:
    """The features taught by every run of one uploaded list (same bucket and key, any content)."""
    digest = hashlib.sha256(f"{source.bucket}\x00{source.key}".encode()).hexdigest()[:24]
    return f"catalog/{digest}/items.json"


def content_index_key(content_key: str) -> str:
    """`{"run_id"}` of the run whose batch outputs an upload with this content key may reuse."""
    return f"scratch/content-index/{content_key}.json"


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
    content_key: str | None = Field(default=None, description="sha256 of the bytes, context, model and settings")
    reused_from: str | None = Field(default=None, description="The run whose batch outputs this run copied")


class PlanOutput(BaseModel):
    """What Plan returns to the state machine: keys and small descriptors only.

    `duplicate` means "nothing for this execution to do": another execution owns the run, or a
    resume found nothing to resume (`note` says why).
    """

    run_id: str
    duplicate: bool = False
    status: RunStatus
    manifest_key: str | None = None
    batch_count: int = 0
    language: str | None = None
    level: Level | None = None
    owner: str | None = None
    reused_from: str | None = None
    note: str | None = None


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
    dropped_prompt_echoes: int = Field(default=0, description="items repeating the system prompt, dropped")
    splits: int = 0
    generator: str = Field(default="llm", description="llm, or offline (havachat.offline)")
    reading_mismatches: int = Field(default=0, description="examples whose romanization the dictionary rejects")
    reading_ambiguous: int = Field(default=0, description="examples with another reading of a heteronym")
    followup_words: int = Field(default=0, description="words asked about again by the coverage follow-up")
    followup_error: str | None = None


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
    merged_similar: int = Field(default=0, description="items merged into another about the same feature")
    merged_with_earlier_runs: int = Field(
        default=0, description="items teaching a feature an earlier run of the same list taught (its id reused)"
    )
    counts_by_category: dict[str, int] = Field(default_factory=dict)
    coverage: Coverage = Field(default_factory=Coverage)
    readings: ReadingsSummary = Field(default_factory=ReadingsSummary)
    generator: str = Field(default="llm", description="llm, or offline (no LLM: havachat.offline)")
    categories_needing_llm: list[str] = Field(default_factory=list, description="left out of an offline run")
    usage: UsageTotals = Field(default_factory=UsageTotals)
    usage_by_category: dict[str, UsageTotals] = Field(default_factory=dict)
    cost_usd: float = 0.0
    failed_batches: list[FailedBatch] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    error: dict[str, Any] | None = None
    reused_from: str | None = None  # the run whose batch outputs were copied (identical content): no LLM call
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
        detail["coverage"] = self.coverage.model_dump(mode="json", exclude={"missed_by_category"})
        detail["coverage"]["missed_counts"] = {c: len(w) for c, w in self.coverage.missed_by_category.items()}
        detail["readings"]["input"]["flagged"] = detail["readings"]["input"]["flagged"][:EVENT_FAILED_BATCHES_SHOWN]
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
    def claim(self, run_id: str, owner: str, from_statuses: tuple[str, ...], status: str, updated_at: str) -> bool: ...


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
    size: int | None = None,
) -> PlanOutput:
    """Validate the vocab, decide the batches, write vocab/plan/manifest to S3 and record the run.

    A different owner's run for the same object version makes this a duplicate. A bad file is
    recorded as a FAILED run with its problems and raised as `InvalidVocabFile`. `size` is the
    object's full size when `data` is only its first bytes (a ranged read). If the same content
    was generated before with the same model, prompt and settings, that run's batch outputs are
    copied (no LLM call; `reused_from` in the run record and summary).
    """
    run_id = run_id_for(source.bucket, source.key, source.version_id or source.etag)
    now = _now()
    record = RunRecord(
        run_id=run_id, status=RunStatus.PLANNING, owner=owner, input=source, created_at=now, updated_at=now
    )
    existing = runs.create(record)
    if existing is not None and existing.owner != owner:
        return PlanOutput(run_id=run_id, duplicate=True, status=existing.status, owner=existing.owner)

    keys = RunKeys(run_id)
    try:
        vocab, language, level = _read_vocab(source, data, settings, size)
        vocab = fill_romanization(vocab, language)  # missing pinyin, kana or RR from the dictionary
        try:
            plan = plan_with_settings(vocab, settings, run_id=run_id, language=language, level=level)
        except ValueError as exc:  # nothing to plan
            raise InvalidVocabFile([VocabProblem(source.key, str(exc))]) from exc
    except InvalidVocabFile as exc:
        runs.update(run_id, status=RunStatus.FAILED.value, problems=[str(p) for p in exc.problems], updated_at=_now())
        raise

    content_key = content_key_for(data, plan, settings)
    reused_from = _reuse_batch_outputs(content_key, plan, store, runs)
    store.put_json(keys.vocab, vocab.model_dump(mode="json"))
    chunks = {spec.chunk_index: (spec.word_start, spec.word_end) for spec in plan.batches}
    for chunk_index, (start, end) in chunks.items():  # one slice per chunk, shared by its categories
        chunk = vocab.model_copy(update={"items": vocab.items[start:end]})
        store.put_json(keys.chunk(chunk_index), chunk.model_dump(mode="json"))
    store.put_json(keys.plan, plan.model_dump(mode="json"))
    store.put_json(keys.manifest, [b.model_dump(mode="json") for b in plan.batches])
    runs.update(
        run_id,
        status=RunStatus.RUNNING.value,
        language=language,
        level=str(level),
        batch_count=len(plan.batches),
        content_key=content_key,
        reused_from=reused_from,
        updated_at=_now(),
    )
    return PlanOutput(
        run_id=run_id,
        status=RunStatus.RUNNING,
        manifest_key=keys.manifest,
        batch_count=len(plan.batches),
        language=language,
        level=level,
        owner=owner,
        reused_from=reused_from,
    )


def _read_vocab(source: S3Object, data: bytes, settings: Settings, size: int | None) -> tuple[VocabList, str, Level]:
    """The parsed vocab with its language and level (from the key, else the JSON envelope)."""
    context = context_from_key(source.key)
    if size is not None and size > settings.max_file_bytes:
        problem = f"the file is {size:,} bytes, over the limit of {settings.max_file_bytes:,} bytes"
        raise InvalidVocabFile([VocabProblem(source.key, problem)])
    vocab = parse_vocab(data, source.key, VocabLimits.from_settings(settings))
    language = context.language or vocab.language
    level = context.level or vocab.level
    if not language or level is None:
        problem = "no level given: use uploads/<language>/<level>/<name> or a JSON envelope with a level"
        raise InvalidVocabFile([VocabProblem(source.key, problem)])
    return vocab, language, level


def content_key_for(data: bytes, plan: RunPlan, settings: Settings) -> str:
    """What decides a run's output: the file's bytes, its language and level, the model, the prompt
    version and the batches (which carry the chunking settings), the answer and split limits and
    the generator settings."""
    decided = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "language": plan.language,
        "level": str(plan.level),
        "model": plan.model,
        "prompt_version": plan.prompt_version,
        "max_tokens": plan.max_tokens,
        "max_split_depth": settings.max_split_depth,
        "provider": settings.provider.value,  # which generator (LLM or offline) makes the items
        "coverage_followup": settings.coverage_followup,
        "batches": [b.model_dump(mode="json") for b in plan.batches],
    }
    return hashlib.sha256(json.dumps(decided, sort_keys=True, default=str).encode()).hexdigest()


def _reuse_batch_outputs(content_key: str, plan: RunPlan, store: Store, runs: Runs) -> str | None:
    """Copy the batch outputs of the last finished run with this content key; returns its run id.

    The copies carry zero usage (nothing was spent again) and the items keep the provenance of the
    run that generated them. A batch the earlier run lacks is generated as usual. The index points
    at the last run that finished SUCCEEDED, else at the newest run with this content.
    """
    keys = RunKeys(plan.run_id)
    pointer = store.get_json(content_index_key(content_key))
    earlier_id = pointer.get("run_id") if isinstance(pointer, dict) else None
    earlier = runs.get(earlier_id) if earlier_id and earlier_id != plan.run_id else None
    copied = 0
    if earlier is not None and earlier.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
        for spec in plan.batches:
            data = store.get_json(RunKeys(earlier.run_id).batch_output(spec.batch_id))
            if data is None:
                continue
            batch = BatchRecord.model_validate(data)
            output = batch.output.model_copy(update={"run_id": plan.run_id, "usage": UsageTotals()})
            store.put_json(
                keys.batch_output(spec.batch_id), BatchRecord(output=output, items=batch.items).model_dump(mode="json")
            )
            copied += 1
    if earlier is None or earlier.status is not RunStatus.SUCCEEDED:
        store.put_json(content_index_key(content_key), {"run_id": plan.run_id, "at": _now()})
    return earlier.run_id if earlier is not None and copied else None


RESUMABLE = (RunStatus.PARTIAL, RunStatus.FAILED)


def resume_step(run_id: str, *, owner: str, store: Store, runs: Runs) -> PlanOutput:
    """Plan for re-running a PARTIAL or FAILED run: the same manifest, `owner` takes the run over.

    GenerateBatch returns existing batch outputs without an LLM call, so only the batches that
    failed run again; Finalize then merges all of them. A run that is unknown, never planned or
    not resumable (SUCCEEDED, or RUNNING under another execution) gives `duplicate` with a note.
    """
    record = runs.get(run_id)
    plan_data = store.get_json(RunKeys(run_id).plan)
    if record is None or plan_data is None:
        note = f"run {run_id} is unknown" if record is None else f"run {run_id} was never planned (invalid file?)"
        status = record.status if record else RunStatus.FAILED
        return PlanOutput(run_id=run_id, duplicate=True, status=status, note=note)
    statuses = tuple(status.value for status in RESUMABLE)
    if not runs.claim(run_id, owner, statuses, RunStatus.RUNNING.value, _now()):
        note = f"run {run_id} is {record.status.value} (owner {record.owner}); only PARTIAL or FAILED runs resume"
        return PlanOutput(run_id=run_id, duplicate=True, status=record.status, owner=record.owner, note=note)
    plan = RunPlan.model_validate(plan_data)
    return PlanOutput(
        run_id=run_id,
        status=RunStatus.RUNNING,
        manifest_key=RunKeys(run_id).manifest,
        batch_count=len(plan.batches),
        language=plan.language,
        level=plan.level,
        owner=owner,
        reused_from=record.reused_from,
    )


# --------------------------------------------------------------------------------------------------
# GenerateBatch
# --------------------------------------------------------------------------------------------------


def generate_step(
    batch_input: BatchInput,
    store: Store,
    llm: StructuredLlm | BatchGenerator,
    metrics_sink: BatchMetricsSink,
    settings: Settings,
) -> BatchOutput:
    """Generate one batch and write its items to S3; returns counts and usage.

    `llm` is a `BatchGenerator` (e.g. `OfflineGenerator`) or an LLM, which is wrapped in
    `LlmBatchGenerator`. The examples' romanization is checked against the dictionary
    (`havachat.readings`) and the flags stored on the items.

    Idempotent: an existing output is returned without an LLM call. On failure the error (with
    the usage it wasted) is written to the batch's error key, then re-raised so Step Functions
    can retry the named error or catch it.
    """
    generator = as_generator(
        llm,
        max_tokens=settings.max_tokens,
        max_split_depth=settings.max_split_depth,
        coverage_followup=settings.coverage_followup,
    )
    spec = batch_input.batch
    keys = RunKeys(batch_input.run_id)
    existing = store.get_json(keys.batch_output(spec.batch_id))
    if existing is not None:
        return BatchRecord.model_validate(existing).output

    words = VocabList.model_validate(store.get_json(keys.chunk(spec.chunk_index))).items
    try:
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
            at=_now(),
        )
        store.put_json(keys.batch_error(spec.batch_id), error.model_dump(mode="json"))
        metrics_sink.record(category=spec.category.value, model=generator.model, usage=usage, items=0, failed=True)
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
    Batches without an output are failed batches, reported with their last stored error. Items are
    de-duplicated, merged by feature across chunks, matched against the list's catalog of earlier
    runs (`list_catalog_key`), and the summary reports coverage and reading checks.
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
        reused_from=record.reused_from if record else None,
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

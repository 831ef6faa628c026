"""What the steps, the handlers and the adapters agree on: run records, step inputs and outputs, summaries, events.

Plain pydantic models, no behaviour beyond shaping (the requests also say which run and which
owner their input names): the adapters (`havachat.aws`) import this module and `keys`, never the steps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, model_validator

from havachat.ledger import UsageTotals
from havachat.models import BUILT_ON_FIRST_USE, BatchSpec, Category, LearningItem, Level, VocabWarning
from havachat.pipeline.keys import run_id_for
from havachat.postprocess import Coverage
from havachat.readings import ReadingsSummary

if TYPE_CHECKING:  # an annotation only: the Stage 2 models load in the Content function alone (cold start)
    from havachat.content.models import ContentDocument

GENERATED = "LearningItemsGenerated"
GENERATION_FAILED = "LearningItemsGenerationFailed"
CONTENT_GENERATED = "LearningContentGenerated"
CONTENT_GENERATION_FAILED = "LearningContentGenerationFailed"
EVENT_FAILED_BATCHES_SHOWN = 50  # the full list is in run.json; events stay far below 256 KB
EVENT_MESSAGE_CHARS = 2000  # an error message in an event is cut to this length


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


CACHE_WARM = "cache_warm"
"""The name the warm-up calls' usage goes by in metrics and in the run's `usage_by_category`."""

MESSAGE_BATCH = "message_batch"
"""The name the collection's wasted usage goes by in metrics and in the run's `usage_by_category`."""


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
    key_as_delivered: str | None = Field(
        default=None, exclude=True, description="the event's key when URL-decoding changed it, read if `key` is missing"
    )


class _EventBucket(BaseModel):
    model_config = BUILT_ON_FIRST_USE

    name: str


class _EventObject(BaseModel):
    model_config = BUILT_ON_FIRST_USE

    key: str
    version_id: str | None = Field(default=None, alias="version-id")
    etag: str | None = None


class _ObjectCreatedDetail(BaseModel):
    model_config = BUILT_ON_FIRST_USE

    bucket: _EventBucket
    object: _EventObject


class ObjectCreatedEvent(BaseModel):
    """The fields of S3's `Object Created` event (through EventBridge) that Plan and Finalize read
    (the others are ignored): the state machine's execution input for an upload."""

    model_config = BUILT_ON_FIRST_USE

    id: str
    detail: _ObjectCreatedDetail

    def uploaded_object(self) -> S3Object:
        """The object version the event names, its key URL-decoded as S3 event notifications encode it
        (`a+b.csv` for `a b.csv`); the key as delivered is kept in case it was not encoded."""
        obj = self.detail.object
        key = unquote_plus(obj.key)
        delivered = obj.key if obj.key != key else None
        return S3Object(
            bucket=self.detail.bucket.name,
            key=key,
            version_id=obj.version_id,
            etag=obj.etag,
            key_as_delivered=delivered,
        )


class ResumeRequest(BaseModel):
    """The execution input that resumes a PARTIAL or FAILED run: only its failed batches run again."""

    model_config = BUILT_ON_FIRST_USE

    resume_run_id: str
    max_cost_usd: float | None = Field(
        default=None, ge=0, description="the run's cost cap from now on (0 = none); default HAVACHAT_MAX_RUN_COST_USD"
    )


class PlanRequest(BaseModel):
    """Plan's input: `{"event": <execution input>, "execution_id"}` from the state machine, or the
    execution input alone (`sam local invoke -e events/s3_object_created.json`)."""

    model_config = BUILT_ON_FIRST_USE

    event: ObjectCreatedEvent | ResumeRequest
    execution_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _execution_input_alone(cls, data: Any) -> Any:
        """The execution input alone is read as `{"event": <input>}`."""
        return data if isinstance(data, dict) and "event" in data else {"event": data}

    def owner(self, invocation_id: str) -> str:
        """Who the run belongs to: the execution; without one, the upload's event (a redelivery is then
        a duplicate), or for a resume this invocation."""
        if self.execution_id:
            return self.execution_id
        if isinstance(self.event, ResumeRequest):
            return f"resume-{invocation_id}"
        return self.event.id


class FinalizeRequest(BaseModel):
    """Finalize's input: `{"run_id", "execution_id"}` after the Map, or on the failure path
    `{"event": <execution input>, "failure": {"Error", "Cause"}, "execution_id"}`."""

    model_config = BUILT_ON_FIRST_USE

    run_id: str = Field(default="", description="Given after the Map; else the run the execution input names")
    event: ObjectCreatedEvent | ResumeRequest | None = None
    failure: dict[str, Any] | None = None
    execution_id: str | None = None

    @model_validator(mode="after")
    def _run_of_the_execution_input(self) -> FinalizeRequest:
        if self.run_id:
            return self
        if isinstance(self.event, ResumeRequest):
            self.run_id = self.event.resume_run_id
        elif self.event is not None:
            upload = self.event.uploaded_object()
            self.run_id = run_id_for(upload.bucket, upload.key, upload.version_id or upload.etag)
        else:
            raise ValueError("either run_id or event is required")
        return self

    def source(self) -> S3Object | None:
        """The uploaded object, when the execution input is an upload (not a resume)."""
        return self.event.uploaded_object() if isinstance(self.event, ObjectCreatedEvent) else None


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
    max_cost_usd: float | None = Field(default=None, description="the cost cap of the run's last execution")
    estimated_cost_usd: float | None = Field(default=None, description="Plan's estimate, when a cap was set")
    spent_usd: float | None = Field(default=None, description="the batches' cost so far, counted while a cap is set")


class PlanOutput(BaseModel):
    """What Plan returns to the state machine: keys and small descriptors only.

    `duplicate` means "nothing for this execution to do": another execution owns the run, or a
    resume found nothing to resume (`note` says why).
    """

    model_config = BUILT_ON_FIRST_USE

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
    max_cost_usd: float | None = Field(default=None, description="the run's cost cap, which the batches check")
    max_concurrency: int | None = Field(
        default=None, ge=1, description="the Map's MaxConcurrency: MapConcurrency, lowered to the rate limits"
    )
    llm_mode: str = Field(default="sync", description="batch: the state machine submits a Message Batch first")
    batch_poll_seconds: int = Field(default=0, description="the wait between two polls of the Message Batch")


class BatchInput(BaseModel):
    """One Map iteration: the run's context plus one descriptor from the manifest."""

    run_id: str
    language: str
    level: Level
    batch: BatchSpec
    max_cost_usd: float | None = Field(default=None, description="the run's cost cap (None: no check, no count)")


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


class WarmOutput(BaseModel):
    """What the WarmCache task cost (`RunKeys.cache_warm`, which Finalize adds to the run's cost)."""

    run_id: str
    chunks_warmed: int = 0
    failed: list[str] = Field(default_factory=list, description="error per chunk whose warm-up failed")
    usage: UsageTotals = Field(default_factory=UsageTotals)


class MessageBatchRecord(BaseModel):
    """`scratch/<run_id>/message_batch.json`: the run's Message Batch, what came of it and what it wasted."""

    run_id: str
    message_batch_id: str
    submitted_at: str
    batch_ids: list[str]
    collected: list[str] = Field(default_factory=list, description="batches whose output the collection wrote")
    failed: list[str] = Field(default_factory=list, description="batch id: error, left to the Map")
    wasted_usage: UsageTotals = Field(default_factory=UsageTotals, description="billed answers that wrote nothing")
    collected_at: str | None = None


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
    model_config = BUILT_ON_FIRST_USE

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

    model_config = BUILT_ON_FIRST_USE

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
    warnings: list[VocabWarning] = Field(
        default_factory=list, description="what intake changed in the file or doubts, by row (vocab.json's)"
    )

    def event_detail(self) -> dict[str, Any]:
        """The completion event's detail (`RunEventDetail`) as published."""
        return RunEventDetail.of(self).model_dump(mode="json")


class FinalizeOutput(BaseModel):
    """What Finalize returns: the run's end in a few fields (the whole summary is at `summary_key`)."""

    model_config = BUILT_ON_FIRST_USE

    run_id: str
    status: RunStatus
    recorded: bool = Field(default=True, description="False: a failure of an execution that does not own the run")
    items_total: int = 0
    failed_batches: int = 0
    summary_key: str | None = None

    @classmethod
    def of(cls, summary: RunSummary) -> FinalizeOutput:
        return cls(
            run_id=summary.run_id,
            status=summary.status,
            items_total=summary.items_total,
            failed_batches=len(summary.failed_batches),
            summary_key=summary.output.summary_key,
        )


class ItemsGeneratedDetail(BaseModel):
    """The fields of the `LearningItemsGenerated` detail Stage 2 reads (the others are ignored)."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    status: RunStatus
    output: OutputLocation
    language: str
    level: str
    items_total: int = 0
    reused_from: str | None = None


class ContentStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    EXISTING = "EXISTING"
    SKIPPED = "SKIPPED"


class ContentOutcome(BaseModel):
    """What the step did: small enough for a Lambda result and a log line."""

    run_id: str
    status: ContentStatus
    reason: str | None = None
    content_key: str | None = None
    conversations: int = 0
    stories: int = 0
    out_of_level_words: int = 0
    cost_usd: float = 0.0
    vocab_from_items: bool = False


# -- published event details: what consumers read (schemas/<detail-type>.json is generated from them) --


class TokenUsage(BaseModel):
    """Tokens by kind, as the events report them."""

    input: int
    output: int
    cache_write: int
    cache_read: int

    @classmethod
    def of(cls, usage: UsageTotals) -> TokenUsage:
        return cls(
            input=usage.input_tokens,
            output=usage.output_tokens,
            cache_write=usage.cache_write_tokens,
            cache_read=usage.cache_read_tokens,
        )


class EventCoverage(BaseModel):
    """The run's coverage with the missed words counted per category (run.json lists them)."""

    model_config = BUILT_ON_FIRST_USE

    words: int
    overall: float
    by_category: dict[str, float]
    missed_counts: dict[str, int]


class RunEventDetail(BaseModel):
    """The detail of `LearningItemsGenerated` and `LearningItemsGenerationFailed`: the run's summary
    (run.json) without the per-category usage; failed batches, problems, intake warnings and flagged
    input rows capped."""

    model_config = BUILT_ON_FIRST_USE

    run_id: str
    status: RunStatus
    input: S3Object
    output: OutputLocation
    language: str | None
    level: str | None
    model: str | None
    prompt_version: str | None
    word_count: int
    batch_count: int
    succeeded_batches: int
    items_total: int
    duplicates_removed: int
    merged_similar: int
    merged_with_earlier_runs: int
    counts_by_category: dict[str, int]
    coverage: EventCoverage
    readings: ReadingsSummary
    generator: str = Field(description="llm, or offline (no LLM: havachat.offline)")
    categories_needing_llm: list[str] = Field(description="left out of an offline run")
    usage: UsageTotals
    cost_usd: float
    error: dict[str, Any] | None = Field(description="the state machine's failure (Error, Cause) of a FAILED run")
    reused_from: str | None = Field(description="the run whose batch outputs this run copied (no LLM call)")
    finished_at: str
    token_usage: TokenUsage
    failed_batch_count: int
    failed_batches: list[FailedBatch] = Field(description=f"the first {EVENT_FAILED_BATCHES_SHOWN}")
    problems: list[str] = Field(description=f"the first {EVENT_FAILED_BATCHES_SHOWN}")
    warning_count: int = Field(description="intake warnings about the file (run.json lists them)")
    warnings: list[VocabWarning] = Field(description=f"the first {EVENT_FAILED_BATCHES_SHOWN}")

    @classmethod
    def of(cls, summary: RunSummary) -> RunEventDetail:
        shown = EVENT_FAILED_BATCHES_SHOWN
        coverage, readings = summary.coverage, summary.readings
        capped_input = readings.input.model_copy(update={"flagged": readings.input.flagged[:shown]})
        replaced = {"usage_by_category", "coverage", "readings", "failed_batches", "problems", "warnings"}
        return cls.model_validate(
            {
                **summary.model_dump(exclude=replaced),
                "coverage": EventCoverage(
                    words=coverage.words,
                    overall=coverage.overall,
                    by_category=coverage.by_category,
                    missed_counts={c: len(w) for c, w in coverage.missed_by_category.items()},
                ),
                "readings": readings.model_copy(update={"input": capped_input}),
                "token_usage": TokenUsage.of(summary.usage),
                "failed_batch_count": len(summary.failed_batches),
                "failed_batches": summary.failed_batches[:shown],
                "problems": summary.problems[:shown],
                "warning_count": len(summary.warnings),
                "warnings": summary.warnings[:shown],
            }
        )


class ContentLocation(BaseModel):
    bucket: str
    content_key: str


class ContentGeneratedDetail(BaseModel):
    """The `LearningContentGenerated` detail: counts, checks and usage of content.json, not the content."""

    run_id: str
    status: Literal["SUCCEEDED"]
    output: ContentLocation
    language: str
    level: str
    model: str
    prompt_version: str
    requested: dict[str, int] = Field(description="pieces asked for per kind (conversation, story)")
    counts: dict[str, int] = Field(description="pieces written per kind")
    dropped_pieces: int
    removed_item_ids: int
    removed_vocab_words: int
    out_of_level_word_count: int
    token_usage: TokenUsage
    usage: UsageTotals
    cost_usd: float
    finished_at: str

    @classmethod
    def of(cls, document: ContentDocument, bucket: str, content_key: str) -> ContentGeneratedDetail:
        summary = document.summary
        return cls(
            run_id=document.run_id,
            status="SUCCEEDED",
            output=ContentLocation(bucket=bucket, content_key=content_key),
            language=document.language,
            level=document.level,
            model=document.model,
            prompt_version=document.prompt_version,
            requested=summary.requested,
            counts=summary.produced,
            dropped_pieces=summary.dropped_pieces,
            removed_item_ids=summary.removed_item_ids,
            removed_vocab_words=summary.removed_vocab_words,
            out_of_level_word_count=len(summary.out_of_level_words),
            token_usage=TokenUsage.of(summary.usage),
            usage=summary.usage,
            cost_usd=summary.cost_usd,
            finished_at=document.generated_at,
        )


class ContentFailedDetail(BaseModel):
    """The `LearningContentGenerationFailed` detail: the run whose content calls failed, and why."""

    run_id: str
    status: Literal["FAILED"]
    error_type: str = Field(description="the exception's name, e.g. ContentGenerationFailed")
    message: str = Field(description=f"the error message, cut to {EVENT_MESSAGE_CHARS} characters")
    failed_at: str

    @classmethod
    def of(cls, run_id: str, error: Exception) -> ContentFailedDetail:
        return cls(
            run_id=run_id,
            status="FAILED",
            error_type=type(error).__name__,
            message=str(error)[:EVENT_MESSAGE_CHARS],
            failed_at=now_iso(),
        )

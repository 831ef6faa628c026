"""What the steps, the handlers and the adapters agree on: run records, step inputs and outputs, summaries, events.

Plain pydantic models, no behaviour beyond shaping: the adapters (`havachat.aws`) import this
module and `keys`, never the steps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from havachat.ledger import UsageTotals
from havachat.models import BatchSpec, Category, LearningItem, Level
from havachat.postprocess import Coverage
from havachat.readings import ReadingsSummary

GENERATED = "LearningItemsGenerated"
GENERATION_FAILED = "LearningItemsGenerationFailed"
CONTENT_GENERATED = "LearningContentGenerated"
EVENT_FAILED_BATCHES_SHOWN = 50  # the full list is in run.json; events stay far below 256 KB


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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


class ItemsGeneratedDetail(BaseModel):
    """The fields of the `LearningItemsGenerated` detail Stage 2 reads (the others are ignored)."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    status: RunStatus
    output: OutputLocation
    language: str
    level: str
    items_total: int = 0


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

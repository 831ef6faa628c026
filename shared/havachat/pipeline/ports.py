"""The ports the steps use: S3, the runs and items tables, the event bus, metrics and the reports (logs).

`havachat.aws` implements them over boto3 and Powertools; `tests/fakes/memory.py` in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from havachat.ledger import UsageTotals
from havachat.models import LearningItem
from havachat.pipeline.contracts import PlanOutput, RunRecord, RunSummary, S3Object

if TYPE_CHECKING:  # annotations only: the Stage 2 models load in the Content function alone (cold start)
    from havachat.content.models import Conversation, Story


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
    def add_spend(self, run_id: str, cost_usd: float) -> float:
        """Add to the run's `spent_usd` atomically (the parallel batches share it); returns the new total."""
        ...


class Items(Protocol):
    def put_items(self, run_id: str, items: Iterable[LearningItem]) -> int: ...


class Events(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class BatchMetricsSink(Protocol):
    def record(self, *, category: str, model: str, usage: UsageTotals, items: int, failed: bool) -> None: ...


class ContentStore(Protocol):
    bucket: str

    def get_json(self, key: str) -> Any | None: ...
    def put_json(self, key: str, value: Any) -> None: ...
    def get_jsonl(self, key: str) -> list[Any]: ...


class ContentRows(Protocol):
    def put_content(self, run_id: str, pieces: Iterable[Conversation | Story]) -> int: ...


class UploadStore(Store, Protocol):
    """The data bucket, and a ranged read of the uploaded object."""

    def read_object(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> tuple[bytes, int]: ...


class PlanReport(Protocol):
    """Where Plan says what it did (metrics and log lines)."""

    def planned(self, output: PlanOutput, source: S3Object) -> None: ...
    def resumed(self, output: PlanOutput) -> None: ...


class FinalizeReport(Protocol):
    """Where Finalize says what it did (metrics and log lines)."""

    def finished(self, summary: RunSummary) -> None: ...
    def failure_not_recorded(self, record: RunRecord) -> None: ...

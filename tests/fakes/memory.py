"""In-memory fakes of the pipeline's ports (`havachat.pipeline.ports`): no boto3, no moto, no sockets.

Each fake keeps the semantics of its AWS adapter in `havachat.aws` and is at least as strict
where a step could otherwise pass on the fake and fail on AWS:

- every value is serialised on the way in and parsed on the way out, as S3, DynamoDB and
  EventBridge do: a value that is not JSON fails the write, and a test cannot pass because a
  step kept a reference to an object it stored;
- `MemoryStore.get_json` returns None for a missing key, `get_jsonl` raises for one (as `S3Store`);
- `MemoryRuns.create` never overwrites and returns the existing record; `claim` is the
  conditional update of `DynamoRuns.claim`; `update` is an upsert that skips None values,
  refuses NaN and infinity and, like DynamoDB, stores floats as numbers that
  come back as int when integral;
- rows over DynamoDB's 400 KB item limit and events over EventBridge's 256 KB entry limit fail.

    store = MemoryStore("data-bucket")
    version = store.upload("uploads-bucket", "uploads/zh/HSK1/list.csv", data)   # what a user PUTs
    runs, items, events, metrics, rows = MemoryRuns(), MemoryItems(), MemoryEvents(), MemoryMetrics(), ...

Also `MemoryReport` (Plan's and Finalize's report) and `MemoryIdempotency` (a step run once per
key, as the handlers' Powertools idempotency does). All of them are thread safe: Finalize reads
batch outputs from a thread pool.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from havachat.content.models import Conversation, Story
from havachat.errors import UploadNotFound
from havachat.ledger import UsageTotals
from havachat.models import LearningItem
from havachat.pipeline.contracts import PlanOutput, RunRecord, RunSummary, S3Object
from tests.event_schemas import check_detail

OutputT = TypeVar("OutputT", bound=BaseModel)

DYNAMO_ITEM_LIMIT_BYTES = 400 * 1024
EVENT_ENTRY_LIMIT_BYTES = 256 * 1024


class NoSuchKey(KeyError):
    """The object (or the object version) does not exist: S3's `NoSuchKey` / `NoSuchVersion`."""


class EntryTooLarge(Exception):
    """An event entry over EventBridge's 256 KB limit (`ValidationException` from `PutEvents`)."""


def _json_bytes(value: Any) -> bytes:
    """What `S3Store.put_json` sends: compact JSON, non-ASCII kept (TypeError for a non-JSON value)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _dynamo_value(value: Any) -> Any:
    """A value as DynamoDB stores and returns it through `to_item`/`from_item`: JSON, numbers as Decimal.

    Strict where DynamoDB is: NaN and infinity cannot be stored (boto3 refuses them as Decimal).
    """
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"DynamoDB cannot store {value!r}: {exc}") from exc
    return _from_decimal(json.loads(text, parse_float=Decimal))


def _from_decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_decimal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_decimal(v) for v in value]
    return value


def _check_item_size(row: dict[str, Any]) -> None:
    size = len(json.dumps(row, ensure_ascii=False).encode())
    if size > DYNAMO_ITEM_LIMIT_BYTES:
        raise ValueError(f"item of {size:,} bytes is over DynamoDB's {DYNAMO_ITEM_LIMIT_BYTES:,}-byte limit")


# -- S3 -------------------------------------------------------------------------------------------------


class MemoryStore:
    """`S3Store` in memory: JSON/JSONL objects under `bucket`, plus uploads to any bucket for `read_object`.

    Buckets are versioned: every write adds a version and reads return the newest unless a version
    is asked for. `writes` lists the data-bucket keys written, in order.
    """

    def __init__(self, bucket: str = "data-bucket") -> None:
        self.bucket = bucket
        self.writes: list[str] = []
        self._objects: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
        self._versions = itertools.count(1)
        self._lock = threading.Lock()

    # the port --------------------------------------------------------------------------------------

    def get_json(self, key: str) -> Any | None:
        data = self._newest(self.bucket, key)
        return None if data is None else json.loads(data)

    def put_json(self, key: str, value: Any) -> None:
        self._put(self.bucket, key, _json_bytes(value))

    def put_jsonl(self, key: str, rows: Iterable[Any]) -> None:
        body = "".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows)
        self._put(self.bucket, key, body.encode())

    def get_jsonl(self, key: str) -> list[Any]:
        data = self._newest(self.bucket, key)
        if data is None:
            raise NoSuchKey(f"s3://{self.bucket}/{key}")
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]

    def read_object(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> tuple[bytes, int]:
        """The first `max_bytes + 1` bytes of the object (version) and its full size, as the ranged GET gives."""
        with self._lock:
            versions = self._objects.get((bucket, key), [])
            if version_id is None:
                data = versions[-1][1] if versions else None
            else:
                data = next((body for vid, body in versions if vid == version_id), None)
        if data is None:  # S3Store turns S3's NoSuchKey / NoSuchVersion into UploadNotFound
            raise UploadNotFound(f"s3://{bucket}/{key}" + (f"?versionId={version_id}" if version_id else ""))
        return data[: max_bytes + 1], len(data)

    # for tests -------------------------------------------------------------------------------------

    def upload(self, bucket: str, key: str, data: bytes) -> str:
        """Put raw bytes (a user's upload); returns the new version id."""
        return self._put(bucket, key, data)

    def raw(self, key: str) -> bytes | None:
        """The newest bytes under `key` in the data bucket, or None."""
        return self._newest(self.bucket, key)

    def delete(self, key: str) -> None:
        """Remove every version of `key` in the data bucket (a lifecycle rule expiring scratch/)."""
        with self._lock:
            self._objects.pop((self.bucket, key), None)

    def keys(self, prefix: str = "") -> list[str]:
        """The data bucket's keys under `prefix`, sorted."""
        with self._lock:
            return sorted(k for b, k in self._objects if b == self.bucket and k.startswith(prefix))

    def snapshot(self) -> dict[str, bytes]:
        """Every data-bucket key with its newest bytes: compare two to see what a step wrote."""
        with self._lock:
            return {k: versions[-1][1] for (b, k), versions in self._objects.items() if b == self.bucket}

    def _put(self, bucket: str, key: str, data: bytes) -> str:
        if not key or len(key.encode()) > 1024:
            raise ValueError(f"invalid S3 key {key!r}")
        with self._lock:
            version_id = f"v{next(self._versions)}"
            self._objects.setdefault((bucket, key), []).append((version_id, bytes(data)))
            if bucket == self.bucket:
                self.writes.append(key)
        return version_id

    def _newest(self, bucket: str, key: str) -> bytes | None:
        with self._lock:
            versions = self._objects.get((bucket, key))
            return versions[-1][1] if versions else None


# -- DynamoDB -------------------------------------------------------------------------------------------


class MemoryRuns:
    """`DynamoRuns` in memory: one JSON-like row per run id, written and read as DynamoDB would."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def create(self, record: RunRecord) -> RunRecord | None:
        """Put the record unless the run exists; returns the existing record in that case, else None."""
        row = _dynamo_value(record.model_dump(mode="json", exclude_none=True))
        _check_item_size(row)
        with self._lock:
            if record.run_id in self._rows:
                existing = copy.deepcopy(self._rows[record.run_id])
            else:
                self._rows[record.run_id] = row
                return None
        return RunRecord.model_validate(existing)

    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            row = copy.deepcopy(self._rows.get(run_id))
        return RunRecord.model_validate(row) if row is not None else None

    def claim(self, run_id: str, owner: str, from_statuses: tuple[str, ...], status: str, updated_at: str) -> bool:
        """`owner` takes the run with `status` if it is in `from_statuses` or already `owner`'s; clears `error`."""
        with self._lock:
            row = self._rows.get(run_id)
            if row is None or (row.get("status") not in from_statuses and row.get("owner") != owner):
                return False
            row.update(_dynamo_value({"status": status, "owner": owner, "updated_at": updated_at}))
            row.pop("error", None)
            _check_item_size(row)
        return True

    def add_spend(self, run_id: str, cost_usd: float) -> float:
        """`DynamoRuns.add_spend`: an atomic add to an existing run's `spent_usd` (a missing run is an error)."""
        with self._lock:
            row = self._rows.get(run_id)
            if row is None:
                raise KeyError(f"no run {run_id}: the conditional update fails")
            row["spent_usd"] = _dynamo_value(row.get("spent_usd", 0) + cost_usd)
            return float(row["spent_usd"])

    def update(self, run_id: str, **fields: Any) -> None:
        """Set the given attributes, None values left out (an upsert, as `UpdateItem` is)."""
        values = _dynamo_value({k: v for k, v in fields.items() if v is not None})
        if not values:
            return
        with self._lock:
            row = {**self._rows.get(run_id, {"run_id": run_id}), **values}
            _check_item_size(row)
            self._rows[run_id] = row

    def run_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._rows)


class _RunRows:
    """A table with partition key `run_id` and one sort key: rows written twice overwrite."""

    sort_key = "id"

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.writes = 0

    def _put_rows(self, run_id: str, rows: dict[str, dict[str, Any]]) -> int:
        stored = {}
        for sort_value, row in rows.items():
            value = _dynamo_value({"run_id": run_id, self.sort_key: sort_value, **row})
            _check_item_size(value)
            stored[sort_value] = value
        with self._lock:
            self._rows.setdefault(run_id, {}).update(stored)
            self.writes += len(stored)
        return len(stored)

    def _rows_of_run(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._rows.get(run_id, {})
            return [copy.deepcopy(rows[k]) for k in sorted(rows)]  # a query returns rows in sort-key order


class MemoryItems(_RunRows):
    """`DynamoItems` in memory (ItemsTable: run_id, item_id)."""

    sort_key = "item_id"

    def put_items(self, run_id: str, items: Iterable[LearningItem]) -> int:
        """One row per item id (a repeated id is written once); returns how many rows were written."""
        return self._put_rows(run_id, {item.id: item.model_dump(mode="json") for item in items})

    def list_items(self, run_id: str) -> list[LearningItem]:
        return [LearningItem.model_validate(row) for row in self._rows_of_run(run_id)]


class MemoryContentRows(_RunRows):
    """`DynamoContent` in memory (ContentTable: run_id, content_id)."""

    sort_key = "content_id"

    def put_content(self, run_id: str, pieces: Iterable[Conversation | Story]) -> int:
        """One row per piece id; returns how many rows were written."""
        return self._put_rows(run_id, {piece.id: piece.model_dump(mode="json") for piece in pieces})

    def list_content(self, run_id: str) -> list[Conversation | Story]:
        pieces: list[Conversation | Story] = []
        for row in self._rows_of_run(run_id):
            model: type[Conversation] | type[Story] = Conversation if row["kind"] == "conversation" else Story
            pieces.append(model.model_validate(row))
        return pieces


# -- EventBridge and metrics -----------------------------------------------------------------------------


class MemoryEvents:
    """`EventBridgePublisher` in memory: `published` holds (detail_type, detail) as a consumer would parse it.

    Every detail must match its detail-type's committed schema (`schemas/`): `jsonschema.ValidationError` if not.
    """

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        if not isinstance(detail, dict):
            raise TypeError(f"an event detail is a JSON object, not {type(detail).__name__}")
        body = json.dumps(detail, ensure_ascii=False)
        size = len(body.encode()) + len(detail_type.encode())
        if size > EVENT_ENTRY_LIMIT_BYTES:
            raise EntryTooLarge(f"{detail_type} entry of {size:,} bytes is over {EVENT_ENTRY_LIMIT_BYTES:,} bytes")
        parsed = json.loads(body)
        check_detail(detail_type, parsed)
        with self._lock:
            self.published.append((detail_type, parsed))

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(detail) for kind, detail in self.published if kind == detail_type]


@dataclass(frozen=True)
class MetricRecord:
    category: str
    model: str
    usage: UsageTotals
    items: int
    failed: bool


class MemoryMetrics:
    """A `BatchMetricsSink` that keeps every `record` call (the usage copied, not referenced)."""

    def __init__(self) -> None:
        self.records: list[MetricRecord] = []
        self._lock = threading.Lock()

    def record(self, *, category: str, model: str, usage: UsageTotals, items: int, failed: bool) -> None:
        if not all(math.isfinite(v) for v in (usage.cost_usd, usage.latency_ms)):
            raise ValueError("EMF metric values must be finite numbers")
        with self._lock:
            self.records.append(MetricRecord(category, model, usage.model_copy(deep=True), items, failed))


# -- Reports and idempotency ------------------------------------------------------------------------------


class MemoryReport:
    """Plan's and Finalize's report (`PlanReport`, `FinalizeReport`): `calls` holds (method, argument)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def planned(self, output: PlanOutput, source: S3Object) -> None:
        self.calls.append(("planned", (output.model_copy(deep=True), source.model_copy(deep=True))))

    def resumed(self, output: PlanOutput) -> None:
        self.calls.append(("resumed", output.model_copy(deep=True)))

    def finished(self, summary: RunSummary) -> None:
        self.calls.append(("finished", summary.model_copy(deep=True)))

    def failure_not_recorded(self, record: RunRecord) -> None:
        self.calls.append(("failure_not_recorded", record.model_copy(deep=True)))


class MemoryIdempotency:
    """Powertools' idempotent function in memory: the first call per key runs the step and stores its
    output (as JSON); later calls with that key return the stored output without running it. A call
    that raises stores nothing, so it runs again, as Powertools deletes the in-progress record."""

    def __init__(self) -> None:
        self.ran = 0
        self._stored: dict[str, str] = {}
        self._lock = threading.Lock()

    def once(
        self, step: Callable[..., OutputT], output: type[OutputT], key: Callable[[dict[str, Any]], Any]
    ) -> Callable[..., OutputT]:
        """`step` (called with keyword arguments only) run once per `key(kwargs)`."""

        def run_once(**kwargs: Any) -> OutputT:
            idempotency_key = json.dumps(key(kwargs), sort_keys=True, default=str)
            with self._lock:
                stored = self._stored.get(idempotency_key)
            if stored is not None:
                return output.model_validate_json(stored)
            result = step(**kwargs)
            with self._lock:
                self._stored[idempotency_key] = result.model_dump_json()
                self.ran += 1
            return result

        return run_once

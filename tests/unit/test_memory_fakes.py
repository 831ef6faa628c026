"""The in-memory ports are at least as strict as the AWS adapters where a step could rely on leniency."""

from __future__ import annotations

import inspect
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import ValidationError

from havachat.errors import UploadNotFound
from havachat.ledger import UsageTotals
from havachat.models import Category, Example, LearningItem, LevelSystem, Provenance, item_id
from havachat.pipeline.contracts import GENERATED, GENERATION_FAILED, RunRecord, RunStatus, S3Object
from havachat.pipeline.ports import (
    BatchMetricsSink,
    ContentRows,
    ContentStore,
    Events,
    FinalizeReport,
    Items,
    PlanReport,
    Runs,
    Store,
    UploadStore,
)
from tests.fakes.memory import (
    EVENT_ENTRY_LIMIT_BYTES,
    EntryTooLarge,
    MemoryContentRows,
    MemoryEvents,
    MemoryItems,
    MemoryMetrics,
    MemoryReport,
    MemoryRuns,
    MemoryStore,
    NoSuchKey,
)
from tests.helpers import load_event


def _record(run_id: str = "run-1", owner: str = "exec-1", status: RunStatus = RunStatus.PLANNING) -> RunRecord:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    source = S3Object(bucket="uploads", key="uploads/zh/HSK1/list.csv", version_id="v1")
    return RunRecord(run_id=run_id, status=status, owner=owner, input=source, created_at=now, updated_at=now)


def _item(title: str) -> LearningItem:
    return LearningItem(
        id=item_id("zh", Category.PATTERN, title, ["我", "是"]),
        language="zh",
        category=Category.PATTERN,
        level_system=LevelSystem.HSK,
        level_min="1",
        level_max="1",
        title=title,
        explanation="An explanation.",
        examples=[Example(text="我是", translation="I am"), Example(text="是我", translation="it is me")],
        source_words=["我", "是"],
        provenance=Provenance(run_id="run-1", batch_id="pattern-0000", model="m", prompt_version="v"),
    )


@pytest.mark.parametrize(
    ("fake", "port"),
    [
        (MemoryStore, Store),
        (MemoryStore, ContentStore),
        (MemoryRuns, Runs),
        (MemoryItems, Items),
        (MemoryEvents, Events),
        (MemoryMetrics, BatchMetricsSink),
        (MemoryContentRows, ContentRows),
        (MemoryStore, UploadStore),
        (MemoryReport, PlanReport),
        (MemoryReport, FinalizeReport),
    ],
)
def test_each_fake_has_the_methods_of_its_port_with_the_same_parameters(fake: type, port: Any) -> None:
    methods = {name: member for name, member in vars(port).items() if callable(member) and not name.startswith("_")}

    assert methods, f"{port.__name__} declares no methods"
    for name, declared in methods.items():
        assert list(inspect.signature(getattr(fake, name)).parameters) == list(inspect.signature(declared).parameters)
    for attribute in getattr(port, "__annotations__", {}):
        assert hasattr(fake(), attribute), f"{fake.__name__} lacks {attribute}"


# -- MemoryStore ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [{"when": datetime(2024, 1, 1)}, {"words": {"我", "是"}}, object()])
def test_a_value_that_is_not_json_fails_the_write_and_stores_nothing(value: object) -> None:
    store = MemoryStore()

    with pytest.raises(TypeError):
        store.put_json("scratch/run/x.json", value)

    assert store.get_json("scratch/run/x.json") is None
    assert store.keys() == []


def test_stored_json_is_a_copy_in_both_directions() -> None:
    store = MemoryStore()
    items = [1, 2]
    store.put_json("k.json", {"items": items, "source": (3, 4)})

    items.append(99)  # a step changing what it stored...
    read = store.get_json("k.json")
    assert read is not None
    read["items"].append(100)  # ...or what it read...

    assert store.get_json("k.json") == {"items": [1, 2], "source": [3, 4]}  # ...changes nothing; tuples are lists


def test_missing_objects_none_for_json_but_an_error_for_jsonl() -> None:
    store = MemoryStore()

    assert store.get_json("nothing.json") is None
    with pytest.raises(NoSuchKey):
        store.get_jsonl("nothing.jsonl")


def test_jsonl_round_trips_rows_one_a_line() -> None:
    store = MemoryStore()

    store.put_jsonl("results/run/items.jsonl", ({"n": n, "word": "你好"} for n in range(3)))

    lines = [f'{{"n":{n},"word":"你好"}}\n' for n in range(3)]
    assert store.raw("results/run/items.jsonl") == "".join(lines).encode()
    assert store.get_jsonl("results/run/items.jsonl") == [{"n": n, "word": "你好"} for n in range(3)]


def test_read_object_gives_the_first_bytes_of_the_asked_version_and_its_full_size() -> None:
    store = MemoryStore()
    first = store.upload("uploads", "uploads/zh/HSK1/a.csv", b"0123456789")
    store.upload("uploads", "uploads/zh/HSK1/a.csv", b"abc")

    assert store.read_object("uploads", "uploads/zh/HSK1/a.csv", first, max_bytes=3) == (b"0123", 10)
    assert store.read_object("uploads", "uploads/zh/HSK1/a.csv", None, max_bytes=3) == (b"abc", 3)
    with pytest.raises(UploadNotFound):
        store.read_object("uploads", "uploads/zh/HSK1/a.csv", "no-such-version", max_bytes=3)
    with pytest.raises(UploadNotFound):
        store.read_object("uploads", "uploads/zh/HSK1/b.csv", None, max_bytes=3)


def test_uploads_to_another_bucket_are_not_in_the_data_bucket() -> None:
    store = MemoryStore("data")

    store.upload("uploads", "k.json", b"{}")

    assert store.get_json("k.json") is None
    assert store.writes == []


# -- MemoryRuns ----------------------------------------------------------------------------------------


def test_create_never_overwrites_and_returns_the_existing_record() -> None:
    runs = MemoryRuns()
    first = _record(owner="exec-1")

    assert runs.create(first) is None
    existing = runs.create(_record(owner="exec-2", status=RunStatus.RUNNING))

    assert existing == first
    assert runs.get("run-1") == first


def test_claim_takes_a_run_in_an_allowed_status_or_already_owned_and_clears_its_error() -> None:
    runs = MemoryRuns()
    runs.create(_record(status=RunStatus.PARTIAL))
    runs.update("run-1", error={"Error": "LlmThrottled"})
    allowed = (RunStatus.PARTIAL.value, RunStatus.FAILED.value)

    assert runs.claim("run-1", "exec-2", allowed, RunStatus.RUNNING.value, "t1")
    assert not runs.claim("run-1", "exec-3", allowed, RunStatus.RUNNING.value, "t2")  # RUNNING under exec-2
    assert runs.claim("run-1", "exec-2", allowed, RunStatus.RUNNING.value, "t3")  # exec-2's own retry
    assert not runs.claim("unknown", "exec-2", allowed, RunStatus.RUNNING.value, "t4")

    record = runs.get("run-1")
    assert record is not None
    assert (record.owner, record.status, record.updated_at, record.error) == ("exec-2", RunStatus.RUNNING, "t3", None)
    assert runs.run_ids() == ["run-1"]  # a failed claim creates nothing


def test_update_skips_none_and_refuses_what_dynamodb_refuses() -> None:
    runs = MemoryRuns()
    runs.create(_record())
    runs.update("run-1", status=RunStatus.RUNNING.value, batch_count=9, cost_usd=2.0)

    runs.update("run-1", batch_count=None, error=None)  # None means "leave as is"
    with pytest.raises(ValueError, match="cannot store"):
        runs.update("run-1", cost_usd=math.nan)
    with pytest.raises(TypeError):
        runs.update("run-1", error={"at": datetime.now(UTC)})

    record = runs.get("run-1")
    assert record is not None
    assert (record.status, record.batch_count, record.cost_usd, record.error) == (RunStatus.RUNNING, 9, 2.0, None)


def test_update_of_an_unknown_run_is_an_upsert_that_a_read_then_rejects() -> None:
    runs = MemoryRuns()

    runs.update("ghost", status=RunStatus.FAILED.value)  # DynamoDB's UpdateItem creates the row

    assert runs.run_ids() == ["ghost"]
    with pytest.raises(ValueError):  # pydantic: the row has no owner, input or dates, as on DynamoDB
        runs.get("ghost")


# -- Items, content rows, events, metrics ---------------------------------------------------------------


def test_items_with_a_repeated_id_are_written_once_and_a_rewrite_overwrites() -> None:
    items = MemoryItems()
    first, second = _item("我是"), _item("是我")

    assert items.put_items("run-1", [first, second, first]) == 2
    assert items.put_items("run-1", [first.model_copy(update={"explanation": "Rewritten."})]) == 1

    stored = {item.id: item for item in items.list_items("run-1")}
    assert sorted(stored) == sorted({first.id, second.id})
    assert stored[first.id].explanation == "Rewritten."
    assert items.list_items("run-2") == []


def test_a_row_over_dynamodbs_item_limit_fails() -> None:
    items = MemoryItems()
    huge = _item("big").model_copy(update={"explanation": "x" * 410_000})

    with pytest.raises(ValueError, match="over DynamoDB"):
        items.put_items("run-1", [huge])
    assert items.list_items("run-1") == []


def test_events_are_kept_as_a_consumer_parses_them_and_oversized_or_non_json_ones_fail() -> None:
    events = MemoryEvents()
    detail = load_event("learning_items_generated")["detail"]
    counts = detail["counts_by_category"]
    category, count = next(iter(counts.items()))

    events.publish(GENERATED, detail)
    counts[category] = count + 99

    [(kind, kept)] = events.published
    assert (kind, kept["counts_by_category"][category]) == (GENERATED, count)
    with pytest.raises(TypeError):
        events.publish(GENERATED, {**detail, "finished_at": datetime.now(UTC)})
    with pytest.raises(EntryTooLarge):
        events.publish(GENERATED, {**detail, "problems": ["x" * EVENT_ENTRY_LIMIT_BYTES]})
    assert len(events.published) == 1


@pytest.mark.parametrize(
    ("detail_type", "change", "error"),
    [
        (GENERATED, {"items_total": "71"}, ValidationError),
        (GENERATED, {"status": "DONE"}, ValidationError),
        (GENERATED, {"token_usage": {"input": 1}}, ValidationError),
        (GENERATION_FAILED, {"run_id": None}, ValidationError),
        ("LearningItemsArchived", {}, FileNotFoundError),
    ],
    ids=["wrong-type", "unknown-status", "missing-nested-field", "null-run-id", "no-schema"],
)
def test_an_event_that_does_not_match_its_schema_is_not_published(
    detail_type: str, change: dict[str, Any], error: type[Exception]
) -> None:
    events = MemoryEvents()
    detail = {**load_event("learning_items_generated")["detail"], **change}

    with pytest.raises(error):
        events.publish(detail_type, detail)
    assert events.published == []


def test_metrics_keep_a_copy_of_the_usage() -> None:
    metrics = MemoryMetrics()
    usage = UsageTotals(calls=1, input_tokens=10)

    metrics.record(category="pattern", model="m", usage=usage, items=3, failed=False)
    usage.input_tokens = 500

    [kept] = metrics.records
    assert (kept.category, kept.usage.input_tokens, kept.items, kept.failed) == ("pattern", 10, 3, False)

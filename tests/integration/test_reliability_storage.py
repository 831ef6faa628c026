"""DynamoDB and EventBridge failing under Finalize: retried, never dropped silently, the same final items."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from havachat.aws.dynamo import RowsWriteFailed
from havachat.aws.events import EventBridgePublisher, EventPublishFailed
from havachat.aws.items import DynamoItems
from havachat.aws.wiring import AwsDeps
from havachat.models import LearningItem
from havachat.pipeline.contracts import RunStatus
from havachat_local.runner import LocalPipeline
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.faults import (
    SMALL_ZH,
    CrashingItems,
    FlakyDynamoClient,
    FlakyEventsClient,
    dynamo_items,
    record_step_functions_retries,
)
from tests.helpers import load_event

KEY = "uploads/zh/HSK1/small.csv"


def test_a_crash_between_the_s3_and_the_dynamodb_write_is_retried_to_the_same_items(
    local: LocalPipeline, fake_claude: FakeClaude, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a clean run's items as the reference
    reference = local.run_bytes(SMALL_ZH, "uploads/zh/HSK1/reference.csv")
    assert reference.run_id is not None
    expected = sorted((i.category.value, i.title) for i in local.read_items(reference.run_id))

    # And Finalize crashing once after items.jsonl is written, before DynamoDB
    waits = record_step_functions_retries(monkeypatch)
    assert local.deps is not None
    crashing = CrashingItems(local.deps.items)
    monkeypatch.setitem(local.function_deps, "FinalizeFunction", _with(local, items=crashing))

    # When the run executes
    with local.capture_events() as drain:
        result = local.run_bytes(SMALL_ZH, KEY)
        events = drain()

    # Then Step Functions retried Finalize, which wrote the same item set to S3 and DynamoDB
    assert crashing.calls == 2 and len(waits) == 1
    assert result.summary is not None and result.summary.status is RunStatus.SUCCEEDED and result.run_id
    items = local.read_items(result.run_id)
    ids = sorted(item.id for item in items)
    assert len(ids) == len(set(ids))
    assert sorted(row["item_id"]["S"] for row in dynamo_items(local, result.run_id)) == ids
    assert sorted((i.category.value, i.title) for i in items) == expected
    assert [e["detail"]["status"] for e in events] == ["SUCCEEDED"]


def _with(local: LocalPipeline, **changes: Any) -> AwsDeps:
    """The runner's adapters with some replaced."""
    assert local.deps is not None
    return replace(local.deps, **changes)


@pytest.fixture
def items(local: LocalPipeline) -> Iterator[list[LearningItem]]:
    """Sixty items of a real run (more than two BatchWriteItem chunks of 25)."""
    result = local.run_bytes(SMALL_ZH, "uploads/zh/HSK1/source.csv")
    assert result.run_id is not None
    base = local.read_items(result.run_id)
    yield [base[i % len(base)].model_copy(update={"id": f"item-{i:03d}"}) for i in range(60)]


def _table_items(local: LocalPipeline) -> DynamoItems:
    assert local.deps is not None and local.settings.items_table is not None
    return DynamoItems(local.settings.items_table, local.session.resource("dynamodb"), backoff_s=0.001)


def test_unprocessed_items_are_resent_until_written(local: LocalPipeline, items: list[LearningItem]) -> None:
    table = _table_items(local)
    flaky = FlakyDynamoClient(table._client, unprocessed=3)
    table._client = flaky

    written = table.put_items("run-unprocessed", items)

    assert written == 60
    assert flaky.batch_calls > 3  # 3 chunks, of which 3 calls came back partly unprocessed
    assert sorted(row["item_id"]["S"] for row in dynamo_items(local, "run-unprocessed")) == sorted(i.id for i in items)


def test_throttling_is_retried(local: LocalPipeline, items: list[LearningItem]) -> None:
    table = _table_items(local)
    table._client = flaky = FlakyDynamoClient(table._client, throttled=2)

    table.put_items("run-throttled", items)

    assert flaky.batch_calls == 3 + 2
    assert len(dynamo_items(local, "run-throttled")) == 60


def test_items_never_processed_raise_instead_of_being_dropped(local: LocalPipeline, items: list[LearningItem]) -> None:
    table = _table_items(local)
    table._client = FlakyDynamoClient(table._client, unprocessed=1000)

    with pytest.raises(RowsWriteFailed, match=r"rows not written to .* after 8 attempts"):
        table.put_items("run-stuck", items)


def test_a_rejected_event_entry_is_resent(local: LocalPipeline) -> None:
    events = FlakyEventsClient(local.events, rejected=2)
    publisher = EventBridgePublisher(local.bus_name, events, backoff_s=0.001)

    detail = {**load_event("learning_items_generated")["detail"], "run_id": "r1"}

    with local.capture_events() as drain:
        publisher.publish("LearningItemsGenerated", detail)
        received = drain()

    assert events.calls == 3
    assert [e["detail"]["run_id"] for e in received] == ["r1"]


def test_an_event_rejected_on_every_attempt_raises(local: LocalPipeline) -> None:
    publisher = EventBridgePublisher(local.bus_name, FlakyEventsClient(local.events, rejected=100), backoff_s=0.001)

    with pytest.raises(EventPublishFailed, match="ThrottlingException"):
        publisher.publish("LearningItemsGenerated", {"run_id": "r1"})


def test_a_completion_event_rejected_for_a_while_is_still_published_once(
    local: LocalPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given EventBridge rejects the entry for longer than the publisher's own attempts (5)
    waits = record_step_functions_retries(monkeypatch)
    events = FlakyEventsClient(local.events, rejected=6)
    monkeypatch.setitem(
        local.function_deps,
        "FinalizeFunction",
        _with(local, events=EventBridgePublisher(local.bus_name, events, backoff_s=0.001)),
    )

    with local.capture_events() as drain:
        result = local.run_bytes(SMALL_ZH, KEY)
        received = drain()

    # Then Finalize failed once, Step Functions retried it, and the event went out exactly once
    assert len(waits) == 1 and events.calls == 7
    assert result.summary is not None and result.summary.status is RunStatus.SUCCEEDED
    assert [e["detail"]["run_id"] for e in received] == [result.run_id]

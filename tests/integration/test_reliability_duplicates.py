"""Duplicate deliveries, re-uploads and idempotency records: one run per object version, nothing twice."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from havachat.aws.idempotency import RECORD_TTL_SECONDS
from havachat.pipeline.contracts import PlanOutput, RunStatus, S3Object
from havachat.pipeline.keys import RunKeys
from havachat_local.runner import LambdaContextStub, LocalPipeline, RunResult, s3_object_created_event
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.faults import SMALL_ZH, dynamo_items

KEY = "uploads/zh/HSK1/small.csv"
EVENTBRIDGE_RETRY_WINDOW_S = 24 * 3600


def _items_without_duplicates(local: LocalPipeline, run_id: str) -> list[str]:
    """The run's item ids, asserting S3 and DynamoDB hold the same ids, each once."""
    s3_ids = [item.id for item in local.read_items(run_id)]
    dynamo_ids = [row["item_id"]["S"] for row in dynamo_items(local, run_id)]
    assert len(s3_ids) == len(set(s3_ids)) > 0
    assert sorted(dynamo_ids) == sorted(s3_ids)
    return s3_ids


def test_the_same_event_delivered_twice_in_sequence_makes_one_run(
    local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    source = local.upload(SMALL_ZH, KEY)
    with local.capture_events() as drain:
        first = local.run_event(s3_object_created_event(source, len(SMALL_ZH)))
        calls = len(fake_claude.requests)
        second = local.run_event(s3_object_created_event(source, len(SMALL_ZH)))  # a new event id
        events = drain()

    assert first.run_id == second.run_id and second.duplicate is True
    assert len(fake_claude.requests) == calls == first.summary.batch_count  # type: ignore[union-attr]
    assert [e["detail"]["run_id"] for e in events] == [first.run_id]
    assert first.run_id is not None
    _items_without_duplicates(local, first.run_id)


def test_the_same_event_delivered_twice_at_once_makes_one_run(local: LocalPipeline, fake_claude: FakeClaude) -> None:
    # Given two deliveries of one object version's event, different event ids, started together
    source = local.upload(SMALL_ZH, KEY)
    events_in = [s3_object_created_event(source, len(SMALL_ZH)) for _ in range(2)]
    assert events_in[0]["id"] != events_in[1]["id"]
    results: list[RunResult] = []
    start = threading.Barrier(2)

    def deliver(event: dict[str, Any]) -> None:
        start.wait()
        results.append(local.run_event(event))

    with local.capture_events() as drain:
        threads = [threading.Thread(target=deliver, args=(event,)) for event in events_in]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        events = drain()

    # Then exactly one execution ran the batches, the other stopped as a duplicate
    assert sorted(r.duplicate for r in results) == [False, True]
    assert all(r.execution_status == "SUCCEEDED" for r in results), [r.execution_cause for r in results]
    run_id = results[0].run_id
    assert run_id is not None and results[1].run_id == run_id
    summary = local.read_summary(run_id)
    assert summary is not None and summary.status is RunStatus.SUCCEEDED
    assert len(fake_claude.requests) == summary.batch_count
    assert [e["detail"]["run_id"] for e in events] == [run_id]
    assert len(_items_without_duplicates(local, run_id)) == summary.items_total


def test_an_identical_file_uploaded_again_reuses_the_results_without_calling_claude(
    local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    # Given a finished run
    with local.capture_events() as drain:
        first = local.run_bytes(SMALL_ZH, KEY)
        calls = len(fake_claude.requests)

        # When the same bytes are uploaded again (a new object version)
        second = local.run_bytes(SMALL_ZH, KEY)
        events = drain()

    # Then it is a new run that made no LLM call and says where its items come from
    assert first.summary is not None and second.summary is not None and second.run_id is not None
    assert second.run_id != first.run_id and second.duplicate is False
    assert len(fake_claude.requests) == calls
    assert second.summary.status is RunStatus.SUCCEEDED
    assert second.summary.reused_from == first.run_id
    assert second.summary.usage.attempts == 0 and second.summary.cost_usd == 0
    assert local.deps is not None
    record = local.deps.runs.get(second.run_id)
    assert record is not None and record.reused_from == first.run_id
    # And it has the same items, in S3 and DynamoDB, and its own completion event
    assert sorted(_items_without_duplicates(local, second.run_id)) == sorted(
        _items_without_duplicates(local, first.summary.run_id)
    )
    assert [(e["detail"]["run_id"], e["detail"]["reused_from"]) for e in events] == [
        (first.run_id, None),
        (second.run_id, first.run_id),
    ]


def test_changed_content_under_the_same_key_is_a_new_run(local: LocalPipeline, fake_claude: FakeClaude) -> None:
    first = local.run_bytes(SMALL_ZH, KEY)
    calls = len(fake_claude.requests)

    second = local.run_bytes(SMALL_ZH + "多,duō,many\n".encode(), KEY)

    assert first.summary is not None and second.summary is not None
    assert second.run_id != first.run_id and second.summary.reused_from is None
    assert len(fake_claude.requests) == calls + second.summary.batch_count
    assert second.summary.word_count == first.summary.word_count + 1


# --------------------------------------------------------------------------------------------------
# Powertools idempotency records (IdempotencyTable)
# --------------------------------------------------------------------------------------------------


def _plan_payload(local: LocalPipeline, execution_id: str) -> dict[str, Any]:
    source = local.upload(SMALL_ZH, KEY)
    return {"event": s3_object_created_event(source, len(SMALL_ZH)), "execution_id": execution_id}


def _context(local: LocalPipeline, remaining_ms: int = 60_000) -> LambdaContextStub:
    return LambdaContextStub(
        function_name="PlanFunction",
        invoked_function_arn=local.function_arns["PlanFunction"],
        deadline_ms=int(time.time() * 1000) + remaining_ms,
    )


def _idempotency_records(local: LocalPipeline) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = local.dynamodb.scan(TableName=local.settings.idempotency_table)["Items"]
    return items


def test_an_idempotency_record_outlives_the_eventbridge_retry_window(local: LocalPipeline) -> None:
    payload = _plan_payload(local, "exec-1")

    local.handlers["PlanFunction"](payload, _context(local))

    [record] = [r for r in _idempotency_records(local) if r["id"]["S"].startswith("plan#")]
    assert record["status"]["S"] == "COMPLETED"
    expires_in = int(record["expiration"]["N"]) - datetime.now(UTC).timestamp()
    assert EVENTBRIDGE_RETRY_WINDOW_S < expires_in <= RECORD_TTL_SECONDS
    ttl = local.dynamodb.describe_time_to_live(TableName=local.settings.idempotency_table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiration"


class _LambdaKilled(BaseException):
    """What a Lambda timeout looks like from inside: the invocation stops, nothing cleans up."""


def _plan_killed_mid_way(local: LocalPipeline, payload: dict[str, Any], remaining_ms: int) -> None:
    assert local.deps is not None
    store = local.deps.store
    original = store.put_json

    def killed(key: str, value: Any) -> None:
        raise _LambdaKilled(key)

    store.put_json = killed  # type: ignore[method-assign]
    try:
        with pytest.raises(_LambdaKilled):
            local.handlers["PlanFunction"](payload, _context(local, remaining_ms))
    finally:
        store.put_json = original  # type: ignore[method-assign]


def test_a_plan_left_in_progress_by_a_timed_out_lambda_expires_so_the_retry_proceeds(local: LocalPipeline) -> None:
    # Given Plan was killed mid-way with 50 ms left: its record stays INPROGRESS until that deadline
    payload = _plan_payload(local, "exec-1")
    _plan_killed_mid_way(local, payload, remaining_ms=50)
    [record] = _idempotency_records(local)
    assert record["status"]["S"] == "INPROGRESS" and "in_progress_expiration" in record
    time.sleep(0.1)

    # When Step Functions retries the task after the deadline
    output = local.handlers["PlanFunction"](payload, _context(local))

    # Then the retry planned the run
    assert output["duplicate"] is False and output["batch_count"] == 9
    assert local.deps is not None and local.deps.store.get_json(RunKeys(output["run_id"]).manifest) is not None
    assert [r["status"]["S"] for r in _idempotency_records(local)] == ["COMPLETED"]


def test_a_plan_still_in_progress_makes_a_concurrent_retry_wait(local: LocalPipeline) -> None:
    payload = _plan_payload(local, "exec-1")
    _plan_killed_mid_way(local, payload, remaining_ms=600_000)

    with pytest.raises(IdempotencyAlreadyInProgressError):
        local.handlers["PlanFunction"](payload, _context(local))


def test_finalize_retried_after_it_completed_does_not_publish_twice(local: LocalPipeline) -> None:
    # Given a finished run
    with local.capture_events() as drain:
        result = local.run_bytes(SMALL_ZH, KEY)
        assert result.run_id is not None
        # When its Finalize is invoked again by the same execution (a lost response, retried)
        execution_id = result.execution_arn
        context = LambdaContextStub("FinalizeFunction", local.function_arns["FinalizeFunction"])
        replay = local.handlers["FinalizeFunction"]({"run_id": result.run_id, "execution_id": execution_id}, context)
        events = drain()

    # Then it answered from the idempotency record: one completion event
    assert replay["run_id"] == result.run_id and replay["status"] == "SUCCEEDED"
    assert Counter(e["detail"]["run_id"] for e in events) == {result.run_id: 1}


def _echo(source: S3Object) -> PlanOutput:
    return PlanOutput(run_id=source.key, status=RunStatus.RUNNING)


def test_parallel_invocations_of_one_idempotent_step_keep_their_own_deadlines(local: LocalPipeline) -> None:
    # Given two invocations with different deadlines, each registering its context, then calling the same step
    deps = local.deps
    assert deps is not None
    deadlines = {"a": int(time.time() * 1000) + 100_000, "b": int(time.time() * 1000) + 400_000}
    both_registered = threading.Barrier(2)

    def invoke(key: str) -> None:
        context = LambdaContextStub("PlanFunction", local.function_arns["PlanFunction"], deadline_ms=deadlines[key])
        echo_once = deps.once(_echo, PlanOutput, name="echo", key="source", context=context)
        both_registered.wait()
        echo_once(source=S3Object(bucket=local.bucket, key=key))

    threads = [threading.Thread(target=invoke, args=(key,)) for key in deadlines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then each record's INPROGRESS expiry was its own invocation's deadline
    expiries = {
        json.loads(r["data"]["S"])["run_id"]: int(r["in_progress_expiration"]["N"])
        for r in _idempotency_records(local)
        if r["id"]["S"].startswith("echo#")
    }
    assert expiries.keys() == deadlines.keys()
    assert all(abs(expiries[key] - deadline) < 5_000 for key, deadline in deadlines.items()), (expiries, deadlines)

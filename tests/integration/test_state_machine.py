"""The whole state machine run by moto via the local runner: an S3 object in, items in S3 and DynamoDB out."""

from __future__ import annotations

import json

import pytest

from havachat.pipeline.contracts import RunStatus
from havachat.settings import Settings
from havachat_local.runner import BatchProgress, LocalPipeline
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import FIXTURES_DIR

HSK1 = FIXTURES_DIR / "vocab" / "zh_hsk1.csv"


def _dynamo_count(local: LocalPipeline, run_id: str) -> int:
    count: int = local.dynamodb.query(
        TableName=local.settings.items_table,
        KeyConditionExpression="run_id = :r",
        ExpressionAttributeValues={":r": {"S": run_id}},
        Select="COUNT",
    )["Count"]
    return count


def test_a_clean_run_from_upload_to_items_and_completion_event(local: LocalPipeline, fake_claude: FakeClaude) -> None:
    # Given the HSK 1 list and a progress listener
    progress: list[BatchProgress] = []
    local.progress = progress.append

    # When it is uploaded under uploads/zh/HSK1/ and the execution runs
    with local.capture_events() as drain:
        result = local.run_file(HSK1, language="zh", level="HSK1")
        events = drain()

    # Then the execution succeeded with nine batches, one call each, after one prompt-cache warm-up
    assert result.execution_status == "SUCCEEDED", result.execution_cause
    summary = result.summary
    assert summary is not None and summary.status is RunStatus.SUCCEEDED
    assert summary.batch_count == 9 and summary.succeeded_batches == 9 and summary.failed_batches == []
    assert len(fake_claude.requests) == 9 and len(fake_claude.warm_ups) == 1
    # every batch reads the chunk's prefix the warm-up wrote, none writes it again
    assert all(u["cache_creation_input_tokens"] == 0 < u["cache_read_input_tokens"] for u in fake_claude.usages)
    assert sorted(p.batch_id for p in progress) == sorted(f"{c}-0000" for c in summary.counts_by_category)
    assert max(p.done for p in progress) == 9 and {p.total for p in progress} == {9}

    # And the items are in S3 (items.jsonl) and DynamoDB, all nine categories present
    items = local.read_items(summary.run_id)
    assert len(items) == summary.items_total > 0
    assert len(summary.counts_by_category) == 9
    assert _dynamo_count(local, summary.run_id) == len(items)
    assert all(item.provenance.run_id == summary.run_id for item in items)

    # And usage adds up and the completion event reached the bus (captured by a rule into SQS)
    assert summary.usage.calls == 10 and summary.usage.input_tokens > 0 and summary.cost_usd > 0
    assert (
        summary.usage_by_category["cache_warm"].cache_write_tokens
        == fake_claude.warm_up_usages[0]["cache_creation_input_tokens"]
    )
    assert [e["detail-type"] for e in events] == ["LearningItemsGenerated"]
    detail = events[0]["detail"]
    assert detail["run_id"] == summary.run_id and detail["status"] == "SUCCEEDED"
    assert detail["input"]["key"] == "uploads/zh/HSK1/zh_hsk1.csv"
    assert detail["counts_by_category"] == summary.counts_by_category
    assert detail["token_usage"]["cache_read"] == summary.usage.cache_read_tokens
    assert detail["failed_batches"] == []


def test_one_batch_failing_for_good_leaves_the_run_partial(local: LocalPipeline, fake_claude: FakeClaude) -> None:
    # Given Claude rejects the cultural batch (400: not retried by the SDK nor by Step Functions)
    fake_claude.script(status=400, match="Category: cultural\n")

    # When the run executes
    with local.capture_events() as drain:
        result = local.run_file(HSK1, language="zh", level="HSK1")
        events = drain()

    # Then the other eight batches kept their items and the run is PARTIAL with the failed batch listed
    assert result.execution_status == "SUCCEEDED", result.execution_cause
    summary = result.summary
    assert summary is not None and summary.status is RunStatus.PARTIAL
    assert summary.succeeded_batches == 8
    assert [(b.batch_id, b.error_type) for b in summary.failed_batches] == [("cultural-0000", "LlmRequestRejected")]
    assert "cultural" not in summary.counts_by_category and len(summary.counts_by_category) == 8
    assert len(local.read_items(summary.run_id)) == summary.items_total > 0
    assert _dynamo_count(local, summary.run_id) == summary.items_total
    assert [e["detail-type"] for e in events] == ["LearningItemsGenerated"]
    assert events[0]["detail"]["status"] == "PARTIAL"
    assert events[0]["detail"]["failed_batches"][0]["batch_id"] == "cultural-0000"


def test_a_duplicate_event_makes_no_second_run(local: LocalPipeline, fake_claude: FakeClaude) -> None:
    # Given a finished run of an uploaded object
    source = local.upload(HSK1.read_bytes(), "uploads/zh/HSK1/zh_hsk1.csv")
    from havachat_local.runner import s3_object_created_event

    with local.capture_events() as drain:
        first = local.run_event(s3_object_created_event(source, size=HSK1.stat().st_size))
        calls = len(fake_claude.requests)

        # When EventBridge delivers the same object version's event again
        second = local.run_event(s3_object_created_event(source, size=HSK1.stat().st_size))
        events = drain()

    # Then the second execution ends at the duplicate check: no LLM call, no second completion event
    assert first.execution_status == second.execution_status == "SUCCEEDED"
    assert second.duplicate is True and second.run_id == first.run_id
    assert len(fake_claude.requests) == calls
    assert [e["detail-type"] for e in events] == ["LearningItemsGenerated"]
    history = local.sfn.get_execution_history(executionArn=second.execution_arn)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered == ["Plan", "IsDuplicate", "DuplicateEvent"]


def test_an_invalid_file_fails_the_run_with_its_problems(local: LocalPipeline, fake_claude: FakeClaude) -> None:
    with local.capture_events() as drain:
        result = local.run_bytes(b"word,romanization\n", "uploads/zh/HSK1/empty.csv")
        events = drain()

    assert result.execution_status == "FAILED"
    assert result.summary is not None and result.summary.status is RunStatus.FAILED
    assert result.summary.error is not None and result.summary.error["Error"] == "InvalidVocabFile"
    assert result.summary.problems, "the run record keeps what is wrong with the file"
    assert fake_claude.requests == []
    assert [e["detail-type"] for e in events] == ["LearningItemsGenerationFailed"]


@pytest.mark.parametrize(
    ("map_concurrency", "output_tokens_per_minute", "expected"),
    [(1, 0, 1), (10, 0, 10), (10, 6_000, 2)],
)
def test_the_map_runs_as_many_batches_at_once_as_plan_decides(
    fake_claude: FakeClaude, map_concurrency: int, output_tokens_per_minute: int, expected: int
) -> None:
    from havachat.llm import InstructorClaude
    from tests.helpers import ROOT

    # Given MapConcurrency and, in the last case, an output-token rate limit that holds two HSK 1 calls'
    # max_tokens reservations at once
    settings = Settings(sdk_max_retries=0, rate_limit_output_tokens_per_minute=output_tokens_per_minute)
    llm = InstructorClaude(fake_claude.client(max_retries=0), model=settings.model)
    with LocalPipeline(llm, settings=settings, root=ROOT, map_concurrency=map_concurrency) as local:
        # When the HSK 1 list runs
        result = local.run_file(HSK1, language="zh", level="HSK1")
        history = local.sfn.get_execution_history(executionArn=result.execution_arn)["events"]

    # Then the Map is entered with Plan's concurrency: MapConcurrency, lowered to what the limit allows
    assert result.summary is not None and result.summary.status is RunStatus.SUCCEEDED
    [entered] = [
        e["stateEnteredEventDetails"]
        for e in history
        if e.get("stateEnteredEventDetails", {}).get("name") == "GenerateBatches"
    ]
    assert json.loads(entered["input"])["max_concurrency"] == expected
    assert max(body["max_tokens"] for body in fake_claude.requests) < settings.max_tokens, "right-sized answers"


def test_a_run_whose_every_batch_fails_fails_the_execution_and_names_the_cause(
    local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    # Given an API key Claude rejects (as a first deploy before the key is set): every batch fails
    fake_claude.script(status=401, times=9)

    # When the HSK 1 list runs
    with local.capture_events() as drain:
        result = local.run_file(HSK1, language="zh", level="HSK1")
        events = drain()

    # Then the execution fails, so the failed-runs alarm fires
    assert (result.execution_status, result.execution_error) == ("FAILED", "RunFailed")
    # and the run record, run.json and the failure event name the real cause, not "no output"
    summary = result.summary
    assert summary is not None and summary.status is RunStatus.FAILED and summary.succeeded_batches == 0
    assert summary.error is not None and summary.error["Error"] == "LlmRequestRejected"
    assert summary.error["Cause"].startswith("every batch failed (9 of 9 with LlmRequestRejected)")
    assert {b.error_type for b in summary.failed_batches} == {"LlmRequestRejected"}
    record = local.function_deps["FinalizeFunction"].runs.get(summary.run_id)
    assert record is not None and record.status is RunStatus.FAILED and record.error == summary.error
    [event] = events
    assert event["detail-type"] == "LearningItemsGenerationFailed"
    assert event["detail"]["error"]["Error"] == "LlmRequestRejected"

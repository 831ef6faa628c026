"""Each handler on its `events/` sample, against moto resources built from template.yaml."""

from __future__ import annotations

import json
from typing import Any

import pytest

from havachat.errors import UploadNotFound
from havachat.pipeline.contracts import RunStatus
from havachat.pipeline.keys import RunKeys
from havachat_local.runner import LambdaContextStub, LocalPipeline
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import FIXTURES_DIR, emf_documents, emf_value, load_event

HSK1 = FIXTURES_DIR / "vocab" / "zh_hsk1.csv"


def _context(local: LocalPipeline, name: str) -> LambdaContextStub:
    return LambdaContextStub(function_name=name, invoked_function_arn=local.function_arns[name])


def _upload_event(local: LocalPipeline, key: str = "uploads/zh/HSK1/zh_hsk1.csv") -> dict[str, Any]:
    """The sample S3 event, pointed at an object really uploaded to the local bucket."""
    source = local.upload(HSK1.read_bytes(), key)
    event = load_event("s3_object_created")
    event["detail"]["bucket"]["name"] = source.bucket
    event["detail"]["object"].update({"key": source.key, "etag": source.etag, "version-id": source.version_id})
    return event


def _plan(local: LocalPipeline, event: dict[str, Any], execution_id: str = "exec-1") -> dict[str, Any]:
    payload = {"event": event, "execution_id": execution_id}
    result: dict[str, Any] = local.handlers["PlanFunction"](payload, _context(local, "PlanFunction"))
    return result


def test_plan_writes_vocab_plan_and_manifest_and_records_the_run(local: LocalPipeline) -> None:
    # Given the sample upload event for zh_hsk1.csv
    event = _upload_event(local)

    # When Plan handles it (as `sam local invoke -e events/s3_object_created.json` would: the bare event)
    output = local.handlers["PlanFunction"](event, _context(local, "PlanFunction"))

    # Then nine category batches are planned and their descriptors are in S3, not in the payload
    assert output["duplicate"] is False
    assert output["batch_count"] == 9
    assert output["language"] == "zh"
    assert output["level"] == {"system": "HSK", "label": "1"}
    keys = RunKeys(output["run_id"])
    assert output["manifest_key"] == keys.manifest
    assert local.deps is not None
    manifest = local.deps.store.get_json(keys.manifest)
    assert len(manifest) == 9 and {"batch_id", "category", "word_start", "word_end"} <= set(manifest[0])
    assert len(local.deps.store.get_json(keys.vocab)["items"]) == 151
    assert len(json.dumps(output)) < 1000
    record = local.deps.runs.get(output["run_id"])
    assert record is not None and record.status is RunStatus.RUNNING and record.batch_count == 9


@pytest.mark.parametrize("encoded", [True, False], ids=["key-url-encoded", "key-as-is"])
def test_plan_reads_a_key_with_a_plus_whether_or_not_the_event_encoded_it(local: LocalPipeline, encoded: bool) -> None:
    event = _upload_event(local, key="uploads/zh/HSK1/hsk 1+.csv")
    event["detail"]["object"]["key"] = "uploads/zh/HSK1/hsk+1%2B.csv" if encoded else "uploads/zh/HSK1/hsk 1+.csv"

    output = _plan(local, event)

    assert output["batch_count"] == 9
    record = local.deps.runs.get(output["run_id"]) if local.deps else None
    assert record is not None and record.input.key == "uploads/zh/HSK1/hsk 1+.csv"


def test_plan_of_an_upload_that_no_longer_exists_raises_upload_not_found(local: LocalPipeline) -> None:
    event = _upload_event(local)
    event["detail"]["object"]["key"] = "uploads/zh/HSK1/deleted.csv"

    with pytest.raises(UploadNotFound):
        _plan(local, event)


def test_plan_of_a_duplicate_event_for_the_same_object_version_is_a_duplicate(local: LocalPipeline) -> None:
    event = _upload_event(local)
    first = _plan(local, event, execution_id="exec-1")

    retried = _plan(local, event, execution_id="exec-1")  # Step Functions retrying the same execution
    duplicate = _plan(local, event, execution_id="exec-2")  # EventBridge delivering the event twice

    assert retried["duplicate"] is False and retried["run_id"] == first["run_id"]
    assert duplicate == {**duplicate, "duplicate": True, "run_id": first["run_id"]}


def test_plan_rejects_a_bad_file_and_records_the_problems(local: LocalPipeline) -> None:
    source = local.upload(b"word,word\n\xff\xfe,x\n", "uploads/zh/HSK1/broken.csv")
    event = load_event("s3_object_created")
    event["detail"]["bucket"]["name"] = source.bucket
    event["detail"]["object"].update({"key": source.key, "etag": source.etag, "version-id": source.version_id})

    with pytest.raises(Exception) as raised:
        _plan(local, event)

    assert type(raised.value).__name__ == "InvalidVocabFile"
    assert local.deps is not None
    runs = local.dynamodb.scan(TableName=local.settings.runs_table)["Items"]
    assert [r["status"]["S"] for r in runs] == ["FAILED"]
    assert runs[0]["problems"]["L"], "the user sees what is wrong with the file"


def test_generate_batch_writes_the_batch_and_emits_emf_metrics(
    local: LocalPipeline, fake_claude: FakeClaude, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a planned run and the sample batch event pointed at it
    planned = _plan(local, _upload_event(local))
    event = load_event("generate_batch")
    event["run_id"] = planned["run_id"]
    capsys.readouterr()

    # When GenerateBatch runs it
    output = local.handlers["GenerateBatchFunction"](event, _context(local, "GenerateBatchFunction"))

    # Then it returns counts and usage only, and the items are in S3
    batch = event["batch"]
    assert output["batch_id"] == batch["batch_id"] and output["status"] == "SUCCEEDED"
    assert batch["target_items_min"] <= output["item_count"] <= batch["target_items_max"]
    assert "items" not in output
    assert local.deps is not None
    record = local.deps.store.get_json(RunKeys(planned["run_id"]).batch_output(batch["batch_id"]))
    assert len(record["items"]) == output["item_count"]

    # And one EMF document carries the batch's metrics with dimensions category and model
    documents = [d for d in emf_documents(capsys.readouterr().out) if "InputTokens" in d]
    assert len(documents) == 1
    emf = documents[0]
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Havachat"
    assert {"category", "model"} <= set(directive["Dimensions"][0])
    names = {m["Name"] for m in directive["Metrics"]}
    assert names == {
        "InputTokens",
        "OutputTokens",
        "CacheWriteTokens",
        "CacheReadTokens",
        "LlmCalls",
        "LlmAttempts",
        "LatencyMs",
        "ItemsGenerated",
        "CostUSD",
        "BatchFailures",
    }
    assert emf["category"] == batch["category"]
    assert emf["model"] == local.settings.model
    assert emf_value(emf, "InputTokens") == output["usage"]["input_tokens"] > 0
    assert emf_value(emf, "CacheWriteTokens") == output["usage"]["cache_write_tokens"]
    assert emf_value(emf, "LlmCalls") == 1
    assert emf_value(emf, "ItemsGenerated") == output["item_count"]
    assert emf_value(emf, "BatchFailures") == 0
    assert emf_value(emf, "CostUSD") == pytest.approx(output["usage"]["cost_usd"])

    # And running it again (a Step Functions retry) does not call the LLM again
    calls = len(fake_claude.requests)
    again = local.handlers["GenerateBatchFunction"](event, _context(local, "GenerateBatchFunction"))
    assert again == output and len(fake_claude.requests) == calls


def test_generate_batch_raises_the_named_error_and_stores_it(
    local: LocalPipeline, fake_claude: FakeClaude, capsys: pytest.CaptureFixture[str]
) -> None:
    planned = _plan(local, _upload_event(local))
    event = load_event("generate_batch")
    event["run_id"] = planned["run_id"]
    fake_claude.script(status=429, times=5)
    capsys.readouterr()

    with pytest.raises(Exception) as raised:
        local.handlers["GenerateBatchFunction"](event, _context(local, "GenerateBatchFunction"))

    assert type(raised.value).__name__ == "LlmThrottled"  # = the state machine's Retry error name
    assert local.deps is not None
    error = local.deps.store.get_json(RunKeys(planned["run_id"]).batch_error(event["batch"]["batch_id"]))
    assert error["error_type"] == "LlmThrottled"
    failures = [d for d in emf_documents(capsys.readouterr().out) if "BatchFailures" in d]
    assert [emf_value(d, "BatchFailures") for d in failures] == [1]


def test_finalize_merges_batches_and_publishes_the_completion_event(local: LocalPipeline) -> None:
    # Given a planned run whose nine batches were generated
    planned = _plan(local, _upload_event(local))
    assert local.deps is not None
    manifest = local.deps.store.get_json(planned["manifest_key"])
    for batch in manifest:
        batch_event = {
            "run_id": planned["run_id"],
            "language": "zh",
            "level": planned["level"],
            "batch": batch,
        }
        local.handlers["GenerateBatchFunction"](batch_event, _context(local, "GenerateBatchFunction"))
    event = load_event("finalize")
    event["run_id"] = planned["run_id"]

    # When Finalize runs on the sample event
    with local.capture_events() as drain:
        output = local.handlers["FinalizeFunction"](event, _context(local, "FinalizeFunction"))
        events = drain()

    # Then the run SUCCEEDED, items are in S3 and DynamoDB, and one completion event was published
    assert output["status"] == "SUCCEEDED" and output["failed_batches"] == 0
    items = local.read_items(planned["run_id"])
    assert len(items) == output["items_total"] > 0
    assert local.dynamodb.query(
        TableName=local.settings.items_table,
        KeyConditionExpression="run_id = :r",
        ExpressionAttributeValues={":r": {"S": planned["run_id"]}},
        Select="COUNT",
    )["Count"] == len(items)
    assert [e["detail-type"] for e in events] == ["LearningItemsGenerated"]
    assert events[0]["source"] == "havachat.pipeline"
    detail = events[0]["detail"]
    assert detail["run_id"] == planned["run_id"] and detail["status"] == "SUCCEEDED"
    assert detail["output"]["items_key"] == RunKeys(planned["run_id"]).items
    assert sum(detail["counts_by_category"].values()) == len(items)
    assert detail["token_usage"]["input"] > 0 and detail["cost_usd"] > 0


def test_finalize_in_failure_mode_records_the_failure(local: LocalPipeline) -> None:
    # Given the failure-path sample: the S3 event of a run that never got past its Map state
    event = load_event("finalize_failure")
    event["event"]["detail"]["bucket"]["name"] = local.bucket

    with local.capture_events() as drain:
        output = local.handlers["FinalizeFunction"](event, _context(local, "FinalizeFunction"))
        events = drain()

    assert output["status"] == "FAILED"
    assert [e["detail-type"] for e in events] == ["LearningItemsGenerationFailed"]
    assert events[0]["detail"]["error"]["Error"] == "States.Timeout"
    record = local.deps.runs.get(output["run_id"]) if local.deps else None
    assert record is not None and record.status is RunStatus.FAILED

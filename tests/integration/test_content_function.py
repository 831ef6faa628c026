"""Stage 2's ContentFunction on the `events/` sample `LearningItemsGenerated` event, on moto resources built
from template.yaml, with the fake Claude at HTTP. Also: the template's rule really matches that event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from havachat.api import LearningItemGenerator
from havachat.aws.wiring import aws_deps
from havachat.content.models import ContentDocument
from havachat.errors import NeedsLlm
from havachat.llm import InstructorClaude
from havachat.models import LearningItem
from havachat.pipeline.contracts import RunSummary
from havachat.pipeline.keys import ContentKeys, RunKeys
from havachat.settings import Provider
from havachat.vocab import read_vocab_file
from havachat_local.runner import LambdaContextStub, LocalPipeline
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.fake_content import install
from tests.helpers import FIXTURES_DIR, emf_documents, emf_value, load_event

CONTENT = "ContentFunction"


def _context(local: LocalPipeline) -> LambdaContextStub:
    return LambdaContextStub(function_name=CONTENT, invoked_function_arn=local.function_arns[CONTENT])


def _completed_run(local: LocalPipeline, fake: FakeClaude) -> tuple[dict[str, Any], list[LearningItem]]:
    """A run's items.jsonl and Plan's vocab in the moto bucket, and the sample event pointed at them."""
    event = load_event("learning_items_generated")
    run_id = event["detail"]["run_id"]
    vocab = read_vocab_file(FIXTURES_DIR / "vocab" / "zh_hsk1.csv")
    llm = InstructorClaude(fake.client(max_retries=0), model=local.settings.model)
    items = [
        i for found in LearningItemGenerator("zh", "HSK1", llm=llm).generate_all(vocab.items).values() for i in found
    ]
    assert local.deps is not None
    local.deps.store.put_jsonl(RunKeys(run_id).items, [i.model_dump(mode="json") for i in items])
    local.deps.store.put_json(RunKeys(run_id).vocab, vocab.model_dump(mode="json"))
    event["detail"]["output"]["bucket"] = local.bucket
    event["detail"]["input"]["bucket"] = local.bucket
    event["detail"]["items_total"] = len(items)
    fake.requests.clear()
    return event, items


def test_the_sample_event_is_the_completion_events_contract() -> None:
    detail = load_event("learning_items_generated")["detail"]

    rebuilt = RunSummary.model_validate(detail).event_detail()

    # The event carries only the missed words' counts (the words are in run.json), so they cannot be rebuilt
    assert detail["coverage"].pop("missed_counts") and rebuilt["coverage"].pop("missed_counts") == {}
    assert set(rebuilt) == set(detail)
    assert rebuilt == detail


def test_the_templates_rule_matches_the_sample_event_and_not_failed_runs(local: LocalPipeline) -> None:
    resource = local.info.template["Resources"][CONTENT]
    (rule,) = resource["Properties"]["Events"].values()
    pattern = json.dumps(rule["Properties"]["Pattern"])
    event = load_event("learning_items_generated")
    partial = {**event, "detail": {**event["detail"], "status": "PARTIAL"}}
    failed = {
        **event,
        "detail-type": "LearningItemsGenerationFailed",
        "detail": {**event["detail"], "status": "FAILED"},
    }

    # The rule as the template declares it, on the pipeline's bus, with a queue as its target
    queue_url = local.sqs.create_queue(QueueName="content-rule-probe")["QueueUrl"]
    queue_arn = local.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    local.events.put_rule(Name="content-rule-probe", EventBusName=local.bus_name, EventPattern=pattern)
    local.events.put_targets(
        Rule="content-rule-probe", EventBusName=local.bus_name, Targets=[{"Id": "q", "Arn": queue_arn["QueueArn"]}]
    )

    def matches(candidate: dict[str, Any]) -> bool:
        entry = {
            "Source": candidate["source"],
            "DetailType": candidate["detail-type"],
            "Detail": json.dumps(candidate["detail"]),
            "EventBusName": local.bus_name,
        }
        local.events.put_events(Entries=[entry])
        received = local.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in received:
            local.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return bool(received)

    assert rule["Properties"]["EventBusName"] == {"Ref": "EventBus"}
    assert matches(event) and matches(partial)
    assert not matches(failed)
    assert not matches({**event, "detail-type": "LearningContentGenerated"}), "its own event does not loop back"


def test_content_function_writes_content_rows_metrics_and_its_event_once(
    local: LocalPipeline, fake_claude: FakeClaude, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a finished run's items in S3 and the sample event pointed at them
    event, items = _completed_run(local, fake_claude)
    install(fake_claude)
    run_id = event["detail"]["run_id"]
    capsys.readouterr()

    # When the rule delivers the event to ContentFunction
    with local.capture_events(("LearningContentGenerated",)) as drain:
        output = local.handlers[CONTENT](event, _context(local))
        published = drain()

    # Then one call per content kind wrote 3 conversations and 3 stories to content.json
    assert sorted(b["tool_choice"]["name"] for b in fake_claude.requests) == ["ConversationBatch", "StoryBatch"]
    assert output["status"] == "SUCCEEDED" and output["conversations"] == output["stories"] == 3
    assert local.deps is not None
    document = ContentDocument.model_validate(local.deps.store.get_json(ContentKeys(run_id).content))
    item_ids = {i.id for i in items}
    words = set(read_vocab_file(FIXTURES_DIR / "vocab" / "zh_hsk1.csv").words)
    assert len(document.conversations) == len(document.stories) == 3
    assert all(set(p.item_ids) <= item_ids and set(p.vocab_words) <= words for p in document.pieces())

    # And one row per piece in ContentTable
    assert local.settings.content_table
    rows = local.dynamodb.query(
        TableName=local.settings.content_table,
        KeyConditionExpression="run_id = :r",
        ExpressionAttributeValues={":r": {"S": run_id}},
    )["Items"]
    assert sorted(r["content_id"]["S"] for r in rows) == sorted(p.id for p in document.pieces())

    # And LearningContentGenerated was published with counts and usage
    assert [e["detail-type"] for e in published] == ["LearningContentGenerated"]
    detail = published[0]["detail"]
    assert detail["run_id"] == run_id and detail["output"]["content_key"] == ContentKeys(run_id).content
    assert detail["counts"] == {"conversation": 3, "story": 3}
    assert detail["token_usage"]["input"] == document.summary.usage.input_tokens > 0

    # And each content call emitted its token metrics (EMF), dimension category content-<kind>
    emf = [d for d in emf_documents(capsys.readouterr().out) if "InputTokens" in d]
    assert sorted(d["category"] for d in emf) == ["content-conversation", "content-story"]
    assert sum(emf_value(d, "InputTokens") for d in emf) == document.summary.usage.input_tokens
    assert sum(emf_value(d, "ItemsGenerated") for d in emf) == 6

    # When the event is delivered again, nothing is called, written or published twice
    with local.capture_events(("LearningContentGenerated",)) as drain:
        again = local.handlers[CONTENT](event, _context(local))
        assert drain() == []
    assert again["status"] == "EXISTING" and len(fake_claude.requests) == 2


def test_a_failed_call_is_raised_for_a_retry_that_makes_only_that_call(
    local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    event, _ = _completed_run(local, fake_claude)
    install(fake_claude).script(status=429, match="Content: stories")

    with local.capture_events(("LearningContentGenerationFailed",)) as drain:
        with pytest.raises(Exception) as raised:
            local.handlers[CONTENT](event, _context(local))
        published = drain()

    assert type(raised.value).__name__ == "ContentGenerationFailed"
    assert "LlmThrottled" in str(raised.value)
    [failed] = [e["detail"] for e in published]
    assert (failed["run_id"], failed["error_type"]) == (event["detail"]["run_id"], "ContentGenerationFailed")
    assert local.deps is not None
    assert local.deps.store.get_json(ContentKeys(event["detail"]["run_id"]).content) is None

    made = len(fake_claude.requests)
    output = local.handlers[CONTENT](event, _context(local))  # Lambda's async retry
    assert output["status"] == "SUCCEEDED"
    assert [b["tool_choice"]["name"] for b in fake_claude.requests[made:]] == ["StoryBatch"]


def test_a_failed_run_or_one_without_items_is_skipped_without_a_call(
    local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    event = load_event("learning_items_generated")
    failed = {**event, "detail": {**event["detail"], "status": "FAILED"}}
    empty = {**event, "detail": {**event["detail"], "items_total": 0}}

    outputs = [local.handlers[CONTENT](e, _context(local)) for e in (failed, empty)]

    assert [(o["status"], o["reason"]) for o in outputs] == [
        ("SKIPPED", "run FAILED"),
        ("SKIPPED", "the run has no items"),
    ]
    assert fake_claude.requests == []


def test_an_offline_stack_fails_content_with_a_clear_needs_an_llm_event(
    local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    event, _ = _completed_run(local, fake_claude)
    offline = local.settings.model_copy(update={"provider": Provider.OFFLINE})
    local.function_deps[CONTENT] = aws_deps(offline, local.session)  # what the deployed function builds

    with local.capture_events(("LearningContentGenerationFailed",)) as drain:
        with pytest.raises(NeedsLlm, match="conversations and stories need an LLM"):
            local.handlers[CONTENT](event, _context(local))
        published = drain()

    [failed] = [e["detail"] for e in published]
    assert (failed["run_id"], failed["error_type"]) == (event["detail"]["run_id"], "NeedsLlm")
    assert "need an LLM" in failed["message"] and fake_claude.requests == []

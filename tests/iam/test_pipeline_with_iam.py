"""The whole pipeline with IAM enforced: every function on its own role from template.yaml, as on AWS.

A grant the code needs and the template lacks fails these tests with the AccessDenied in the
assertion message (the run record's error), before a deploy would.
"""

from __future__ import annotations

from typing import Any

import pytest

from havachat.pipeline.contracts import RunStatus
from havachat_local.runner import ACCOUNT, LambdaContextStub, LocalPipeline
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.fake_content import install
from tests.helpers import FIXTURES_DIR
from tests.iam.support import why

pytestmark = pytest.mark.iam

HSK1 = FIXTURES_DIR / "vocab" / "zh_hsk1.csv"
CONTENT = "ContentFunction"


def rows(local: LocalPipeline, table: str | None, run_id: str) -> list[dict[str, Any]]:
    """The run's rows in a table (read by the runner's admin identity)."""
    found: list[dict[str, Any]] = local.dynamodb.query(
        TableName=table,
        KeyConditionExpression="run_id = :r",
        ExpressionAttributeValues={":r": {"S": run_id}},
    )["Items"]
    return found


def test_a_full_run_succeeds_with_each_function_on_its_own_role(
    iam_local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    # When the HSK 1 list is uploaded and the execution runs: Plan, nine GenerateBatch, Finalize
    with iam_local.capture_events() as drain:
        result = iam_local.run_file(HSK1, language="zh", level="HSK1")
        events = drain()

    # Then every step had the grants it needed
    summary = result.summary
    assert result.execution_status == "SUCCEEDED", why(result)
    assert summary is not None and summary.status is RunStatus.SUCCEEDED, why(result)
    assert summary.batch_count == summary.succeeded_batches == 9 and len(fake_claude.requests) == 9
    items = iam_local.read_items(summary.run_id)
    assert len(items) == summary.items_total > 0
    assert len(rows(iam_local, iam_local.settings.items_table, summary.run_id)) == len(items)
    assert [e["detail-type"] for e in events] == ["LearningItemsGenerated"]


def test_a_bad_file_fails_through_the_failure_path(iam_local: LocalPipeline, fake_claude: FakeClaude) -> None:
    with iam_local.capture_events() as drain:
        result = iam_local.run_bytes(b"word,romanization\n", "uploads/zh/HSK1/empty.csv")
        events = drain()

    # Plan recorded the file's problems and Finalize, in failure mode, the run FAILED and its event
    assert result.execution_status == "FAILED"
    assert result.summary is not None and result.summary.status is RunStatus.FAILED
    assert result.summary.error is not None and result.summary.error["Error"] == "InvalidVocabFile", why(result)
    assert result.summary.problems and fake_claude.requests == []
    assert [e["detail-type"] for e in events] == ["LearningItemsGenerationFailed"]


def test_a_partial_run_and_its_resume(iam_local: LocalPipeline, fake_claude: FakeClaude) -> None:
    # Given a run left PARTIAL by a rejected cultural batch
    fake_claude.script(status=400, match="Category: cultural\n")
    with iam_local.capture_events() as drain:
        first = iam_local.run_file(HSK1, language="zh", level="HSK1")
        assert first.summary is not None and first.summary.status is RunStatus.PARTIAL, why(first)
        assert [b.batch_id for b in first.summary.failed_batches] == ["cultural-0000"]
        calls = len(fake_claude.requests)

        # When it is resumed
        resumed = iam_local.resume(first.summary.run_id)
        events = drain()

    # Then only the cultural batch ran again and the run is complete
    assert resumed.execution_status == "SUCCEEDED", why(resumed)
    assert resumed.summary is not None and resumed.summary.status is RunStatus.SUCCEEDED, why(resumed)
    assert len(fake_claude.requests) == calls + 1
    assert resumed.summary.counts_by_category["cultural"] > 0
    assert [e["detail"]["status"] for e in events] == ["PARTIAL", "SUCCEEDED"]


def test_content_runs_on_its_role_from_the_completion_event(iam_local: LocalPipeline, fake_claude: FakeClaude) -> None:
    # Given a finished run and the LearningItemsGenerated event it published
    install(fake_claude)
    with iam_local.capture_events(("LearningItemsGenerated",)) as drain:
        result = iam_local.run_file(HSK1, language="zh", level="HSK1")
        events = drain()
    assert result.summary is not None and result.summary.status is RunStatus.SUCCEEDED, why(result)
    (completed,) = events

    # When the rule delivers it to ContentFunction (with `account`, which moto's delivery to SQS leaves out)
    event = {"account": ACCOUNT, **completed}
    context = LambdaContextStub(function_name=CONTENT, invoked_function_arn=iam_local.function_arns[CONTENT])
    with iam_local.capture_events(("LearningContentGenerated",)) as drain:
        output = iam_local.handlers[CONTENT](event, context)
        published = drain()

    # Then it read the run's items and vocab, wrote content.json and ContentTable, and announced it
    assert output["status"] == "SUCCEEDED" and output["conversations"] == output["stories"] == 3
    assert len(rows(iam_local, iam_local.settings.content_table, result.summary.run_id)) == 6
    assert [e["detail-type"] for e in published] == ["LearningContentGenerated"]

"""The run's cost cap on moto: the atomic spend counter, and a capped run through the real state machine."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from havachat.aws.runs import DynamoRuns
from havachat.llm import InstructorClaude
from havachat.pipeline.contracts import RunRecord, RunStatus, S3Object
from havachat.settings import Settings
from havachat_local.runner import LocalPipeline
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import FIXTURES_DIR, ROOT


@pytest.fixture
def runs() -> Iterator[DynamoRuns]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="runs",
            KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoRuns("runs", dynamodb)


def test_the_spend_is_a_counter_on_the_run_record(runs: DynamoRuns) -> None:
    """`ADD` is atomic on DynamoDB; moto serialises no concurrent updates, so the adds here are sequential."""
    # Given a run record
    source = S3Object(bucket="b", key="uploads/zh/HSK1/list.csv", version_id="v1")
    runs.create(
        RunRecord(run_id="r1", status=RunStatus.RUNNING, owner="e1", input=source, created_at="t", updated_at="t")
    )

    # When 8 batches add their cost
    for _ in range(8):
        runs.add_spend("r1", 0.125)

    # Then the record holds the total, and each add returns the new total
    record = runs.get("r1")
    assert record is not None and record.spent_usd == 1.0
    assert runs.add_spend("r1", 0.5) == 1.5 and runs.add_spend("r1", 0.0) == 1.5

    # And a run that has no record is not created by an add
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        runs.add_spend("unknown", 0.1)
    assert runs.get("unknown") is None


class _EarlierSpend:
    """The runs table GenerateBatch sees, with `usd` already spent on a run when it first reads it (earlier
    attempts): a cut-off answer bills only its right-sized max_tokens, too little to pass a cap on its own."""

    def __init__(self, runs: DynamoRuns, usd: float) -> None:
        self._runs, self._usd, self._seen = runs, usd, set[str]()

    def get(self, run_id: str) -> RunRecord | None:
        if run_id not in self._seen:
            self._seen.add(run_id)
            self._runs.add_spend(run_id, self._usd)
        return self._runs.get(run_id)

    def __getattr__(self, name: str) -> object:
        return getattr(self._runs, name)


def test_a_run_that_reaches_its_cap_ends_partial_and_a_resume_with_a_higher_cap_finishes_it(tmp_path: Path) -> None:
    # Given a 20-word list, a cap above its estimate, $0.18 of it spent already, batches one at a time, and
    # a first answer cut off (it and its halves take the spend past the cap)
    rows = (FIXTURES_DIR / "vocab" / "zh_hsk1.csv").read_text(encoding="utf-8").splitlines()[:21]
    vocab = tmp_path / "list.csv"
    vocab.write_text("\n".join(rows) + "\n", encoding="utf-8")
    settings = Settings(sdk_max_retries=0, max_run_cost_usd=0.2, max_tokens=16_000)
    fake = FakeClaude().script(truncated=True, match="Category: pronunciation\n")  # the manifest's first batch
    llm = InstructorClaude(fake.client(max_retries=0), model=settings.model, validation_max_retries=1)

    def batch_calls() -> list[dict[str, object]]:
        """The batches' calls (the cache warm-up's calls name no category)."""
        return fake.requests_matching("Category: ")

    with LocalPipeline(llm, settings=settings, root=ROOT, map_concurrency=1) as local:
        deps = local.function_deps["GenerateBatchFunction"]
        local.function_deps["GenerateBatchFunction"] = replace(deps, runs=_EarlierSpend(deps.runs, 0.18))
        # When it runs
        with local.capture_events() as drain:
            result = local.run_file(vocab, language="zh", level="HSK1")
            events = drain()

        # Then the first batch (cut off, then split) spent past the cap and the eight others made no call
        summary = result.summary
        assert result.execution_status == "SUCCEEDED", result.execution_cause
        assert summary is not None and summary.status is RunStatus.PARTIAL
        assert summary.succeeded_batches == 1 and len(batch_calls()) == 3  # the cut-off call and its two halves
        assert {b.error_type for b in summary.failed_batches} == {"CostCapReached"}
        assert "cost cap of $0.20 was reached" in summary.failed_batches[0].message
        assert events[0]["detail"]["failed_batches"][0]["error_type"] == "CostCapReached"
        assert local.deps is not None
        record = local.deps.runs.get(summary.run_id)
        assert record is not None and record.spent_usd is not None and record.spent_usd >= 0.2
        assert record.spent_usd == pytest.approx(0.18 + summary.cost_usd, abs=1e-5)  # run.json rounds to 6 places

        # When it is resumed with a higher cap in the execution input
        started = local.sfn.start_execution(
            stateMachineArn=local.state_machine_arn,
            name=uuid.uuid4().hex,
            input=json.dumps({"resume_run_id": summary.run_id, "max_cost_usd": 5}),
        )
        assert local.wait(started["executionArn"])["status"] == "SUCCEEDED"

        # Then only the eight stopped batches were called, and the run succeeded
        resumed = local.read_summary(summary.run_id)
        assert resumed is not None and resumed.status is RunStatus.SUCCEEDED and resumed.succeeded_batches == 9
        assert len(batch_calls()) == 3 + 8
        record = local.deps.runs.get(summary.run_id)
        assert record is not None and record.max_cost_usd == 5
        assert record.spent_usd is not None and record.spent_usd >= resumed.cost_usd  # both warm-ups count

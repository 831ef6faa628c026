"""IAM enforcement is real: each function's clients reach only what its role in template.yaml allows.

Every denial has an allowed twin on the same service, so a pass cannot come from a tier that
denies everything; the missing-grant test shows a role with one statement less failing the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from havachat.pipeline.contracts import RunStatus
from havachat_local.iam import IamTier
from havachat_local.runner import REGION, LocalPipeline
from havachat_local.sam_roles import TemplateRoles
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.faults import record_step_functions_retries
from tests.helpers import FIXTURES_DIR
from tests.iam.support import iam_pipeline, why

pytestmark = pytest.mark.iam

HSK1 = FIXTURES_DIR / "vocab" / "zh_hsk1.csv"
UPLOAD = "uploads/zh/HSK1/zh_hsk1.csv"
DENIED = {"AccessDenied", "AccessDeniedException"}  # S3 says the first, the JSON services the second


def error_code(call: Callable[[], Any]) -> str | None:
    """The AWS error code `call` raises, or None when it succeeds."""
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


def tier(local: LocalPipeline) -> IamTier:
    assert local.iam is not None
    return local.iam


def client(local: LocalPipeline, function: str, service: str) -> Any:
    """A client of the function's role, as the handler's adapters hold one."""
    return tier(local).session_for(function).client(service)


def test_only_plan_reads_the_uploads(iam_local: LocalPipeline) -> None:
    iam_local.upload(HSK1.read_bytes(), UPLOAD)
    readers = {f: iam_local.function_deps[f].store for f in iam_local.function_deps}

    assert readers.pop("PlanFunction").read_object(iam_local.bucket, UPLOAD, None, 10)[1] > 0
    assert readers, "the other functions"
    for function, store in readers.items():
        assert error_code(lambda s=store: s.read_object(iam_local.bucket, UPLOAD, None, 10)) in DENIED, function


def test_each_function_writes_only_where_its_role_allows(iam_local: LocalPipeline) -> None:
    deps = iam_local.function_deps
    table = iam_local.settings

    # S3: each writes its own prefixes, not the others'
    assert error_code(lambda: deps["GenerateBatchFunction"].store.put_json("scratch/probe/batch.json", {})) is None
    assert error_code(lambda: deps["GenerateBatchFunction"].store.put_json("results/probe/run.json", {})) in DENIED
    assert error_code(lambda: deps["FinalizeFunction"].store.put_json("results/probe/run.json", {})) is None
    assert error_code(lambda: deps["FinalizeFunction"].store.put_json("scratch/probe/plan.json", {})) in DENIED
    assert error_code(lambda: deps["PlanFunction"].store.put_json("uploads/zh/HSK1/other.csv", {})) in DENIED
    assert error_code(lambda: deps["ContentFunction"].store.put_json("catalog/probe/items.json", {})) in DENIED

    # DynamoDB: checked against the table's ARN
    item = {"run_id": {"S": "probe"}, "item_id": {"S": "probe"}}
    plan, finalize = client(iam_local, "PlanFunction", "dynamodb"), client(iam_local, "FinalizeFunction", "dynamodb")
    assert error_code(lambda: plan.get_item(TableName=table.runs_table, Key={"run_id": {"S": "probe"}})) is None
    assert error_code(lambda: plan.put_item(TableName=table.items_table, Item=item)) in DENIED
    assert error_code(lambda: finalize.put_item(TableName=table.items_table, Item=item)) is None
    content = {"run_id": {"S": "probe"}, "content_id": {"S": "probe"}}
    assert error_code(lambda: finalize.put_item(TableName=table.content_table, Item=content)) in DENIED

    # EventBridge: checked against the bus of the entries
    entry = {"Source": "havachat.pipeline", "DetailType": "Probe", "Detail": "{}"}
    events = client(iam_local, "FinalizeFunction", "events")
    assert error_code(lambda: events.put_events(Entries=[{**entry, "EventBusName": iam_local.bus_name}])) is None
    assert error_code(lambda: events.put_events(Entries=[entry])) in DENIED  # the default bus
    generate = client(iam_local, "GenerateBatchFunction", "events")
    assert error_code(lambda: generate.put_events(Entries=[{**entry, "EventBusName": iam_local.bus_name}])) in DENIED


def test_only_the_llm_functions_read_the_api_key(iam_local: LocalPipeline) -> None:
    secret = tier(iam_local).names.refs["AnthropicApiKeySecret"]

    for function in ("GenerateBatchFunction", "ContentFunction"):
        value = client(iam_local, function, "secretsmanager").get_secret_value(SecretId=secret)
        assert value["SecretString"] == "REPLACE_ME"
    for function in ("PlanFunction", "FinalizeFunction"):
        reader = client(iam_local, function, "secretsmanager")
        assert error_code(lambda r=reader: r.get_secret_value(SecretId=secret)) in DENIED, function


def test_the_state_machine_invokes_only_its_own_functions_and_reads_only_scratch(iam_local: LocalPipeline) -> None:
    machine = tier(iam_local).state_machine_session()
    awslambda, s3 = machine.client("lambda"), machine.client("s3")

    assert error_code(lambda: awslambda.invoke(FunctionName="ContentFunction", Payload=b"{}")) in DENIED
    assert error_code(lambda: s3.get_object(Bucket=iam_local.bucket, Key=UPLOAD)) in DENIED
    # Without s3:ListBucket a missing key is a 403, as on AWS; the functions' roles have it and get a 404
    assert error_code(lambda: s3.get_object(Bucket=iam_local.bucket, Key="scratch/missing.json")) in DENIED
    plan = client(iam_local, "PlanFunction", "s3")
    assert error_code(lambda: plan.get_object(Bucket=iam_local.bucket, Key="scratch/missing.json")) == "NoSuchKey"


def test_a_client_without_a_role_is_refused(iam_local: LocalPipeline) -> None:
    # The environment's credentials belong to no identity: a client a handler built for itself fails loudly
    ambient = boto3.client("s3", region_name=REGION)

    assert error_code(lambda: ambient.get_object(Bucket=iam_local.bucket, Key=UPLOAD)) == "InvalidAccessKeyId"


def test_a_role_missing_one_grant_fails_the_run_where_the_grant_is_needed(
    fake_claude: FakeClaude, template_roles: TemplateRoles, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Finalize's role without ListCatalog (catalog/<list>/items.json), in memory only
    roles = template_roles.without_statement("FinalizeFunctionRole", "ListCatalog")
    record_step_functions_retries(monkeypatch)

    # When a run executes
    with iam_pipeline(fake_claude, roles) as local:
        result = local.run_file(HSK1, language="zh", level="HSK1")
        history = local.sfn.get_execution_history(executionArn=result.execution_arn)["events"]

    # Then the batches were generated, Finalize was denied the catalog and the run took the failure path
    assert result.execution_status == "FAILED"
    assert len(fake_claude.requests) == 9
    assert result.summary is not None and result.summary.status is RunStatus.FAILED
    failure = why(result) or ""
    assert "not authorized to perform: s3:GetObject on resource: " in failure and "/catalog/" in failure, failure
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered[-3:] == ["Finalize", "RecordFailure", "Failed"]

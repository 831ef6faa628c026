"""The local bucket, tables and bus come from template.yaml itself: tests and infrastructure cannot drift."""

from __future__ import annotations

from havachat_local.runner import LocalPipeline
from havachat_local.template import TABLE_TYPES


def test_tables_are_built_with_the_templates_keys_and_ttl(local: LocalPipeline) -> None:
    template_tables = local.info.resources(TABLE_TYPES)

    for logical_id, resource in template_tables.items():
        name = getattr(
            local.settings,
            {"RunsTable": "runs_table", "ItemsTable": "items_table"}.get(logical_id, "x"),
            None,
        )
        name = name or f"havachat-local-{logical_id}"
        table = local.dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == resource["Properties"]["KeySchema"]
        assert table["AttributeDefinitions"] == resource["Properties"]["AttributeDefinitions"]

    ttl = local.dynamodb.describe_time_to_live(TableName="havachat-local-IdempotencyTable")
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}
    runs_keys = local.dynamodb.describe_table(TableName=local.settings.runs_table)["Table"]["KeySchema"]
    assert runs_keys == [{"AttributeName": "run_id", "KeyType": "HASH"}]


def test_bucket_bus_and_functions_exist(local: LocalPipeline) -> None:
    assert local.s3.get_bucket_versioning(Bucket=local.bucket)["Status"] == "Enabled"
    assert local.events.describe_event_bus(Name=local.bus_name)["Name"] == local.bus_name
    names = {f["FunctionName"] for f in local.awslambda.list_functions()["Functions"]}
    assert names == {"PlanFunction", "GenerateBatchFunction", "FinalizeFunction", "ContentFunction"}

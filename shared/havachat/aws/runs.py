"""The run record in DynamoDB (RunsTable, PK run_id): one per input object version."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from havachat.aws.dynamo import from_item, to_item
from havachat.pipeline.contracts import RunRecord


class DynamoRuns:
    def __init__(self, table_name: str, resource: Any = None) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)

    def create(self, record: RunRecord) -> RunRecord | None:
        """Put the record unless the run exists; returns the existing record in that case, else None."""
        try:
            self._table.put_item(
                Item=to_item(record.model_dump(mode="json", exclude_none=True)),
                ConditionExpression="attribute_not_exists(run_id)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return self.get(record.run_id)
        return None

    def get(self, run_id: str) -> RunRecord | None:
        item = self._table.get_item(Key={"run_id": run_id}, ConsistentRead=True).get("Item")
        return RunRecord.model_validate(from_item(item)) if item else None

    def claim(self, run_id: str, owner: str, from_statuses: tuple[str, ...], status: str, updated_at: str) -> bool:
        """Make `owner` the run's owner with `status` if the run is in one of `from_statuses` (or `owner` has it).

        The conditional update lets one execution at a time resume a run. The previous error is cleared.
        """
        names = {"#status": "status", "#owner": "owner", "#updated_at": "updated_at", "#error": "error"}
        values = {f":from{i}": value for i, value in enumerate(from_statuses)}
        allowed = ", ".join(values)
        try:
            self._table.update_item(
                Key={"run_id": run_id},
                UpdateExpression="SET #status = :status, #owner = :owner, #updated_at = :now REMOVE #error",
                ConditionExpression=f"attribute_exists(run_id) AND (#status IN ({allowed}) OR #owner = :owner)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":status": status, ":owner": owner, ":now": updated_at},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def add_spend(self, run_id: str, cost_usd: float) -> float:
        """`ADD spent_usd :cost`: one atomic counter the run's parallel batches share; returns the new total."""
        done = self._table.update_item(
            Key={"run_id": run_id},
            UpdateExpression="ADD #spent :cost",
            ConditionExpression="attribute_exists(run_id)",
            ExpressionAttributeNames={"#spent": "spent_usd"},
            ExpressionAttributeValues={":cost": to_item(cost_usd)},
            ReturnValues="ALL_NEW",
        )
        return float(done["Attributes"].get("spent_usd", 0))

    def update(self, run_id: str, **fields: Any) -> None:
        """Set the given attributes (upsert: a failure can be recorded for a run Plan never created)."""
        values = to_item({k: v for k, v in fields.items() if v is not None})
        if not values:
            return
        names = {f"#{k}": k for k in values}
        self._table.update_item(
            Key={"run_id": run_id},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":{k}": v for k, v in values.items()},
        )

"""Learning items in DynamoDB (ItemsTable, PK run_id, SK item_id). Writing twice overwrites: idempotent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from havachat.aws.dynamo import from_item, to_item
from havachat.models import LearningItem


class DynamoItems:
    def __init__(self, table_name: str, resource: Any = None) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)

    def put_items(self, run_id: str, items: Iterable[LearningItem]) -> int:
        """Batch-write the items; boto3's batch_writer resends UnprocessedItems and de-duplicates keys."""
        count = 0
        with self._table.batch_writer(overwrite_by_pkeys=["run_id", "item_id"]) as batch:
            for item in items:
                row = item.model_dump(mode="json")
                batch.put_item(Item=to_item({"run_id": run_id, "item_id": item.id, **row}))
                count += 1
        return count

    def list_items(self, run_id: str) -> list[LearningItem]:
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("run_id").eq(run_id)}
        while True:
            page = self._table.query(**kwargs)
            rows.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [LearningItem.model_validate(from_item(row)) for row in rows]

"""Stage 2 content in DynamoDB (ContentTable, PK run_id, SK content_id). Writing twice overwrites: idempotent.

A table of its own rather than rows in ItemsTable: readers of a run's items query by `run_id` and
get learning items only, and content rows (whole stories) have their own size and access pattern.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from havachat.aws.dynamo import from_item, to_item
from havachat.content_models import Conversation, Story


class DynamoContent:
    def __init__(self, table_name: str, resource: Any = None) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)

    def put_content(self, run_id: str, pieces: Iterable[Conversation | Story]) -> int:
        """Batch-write one row per piece; boto3's batch_writer resends UnprocessedItems."""
        count = 0
        with self._table.batch_writer(overwrite_by_pkeys=["run_id", "content_id"]) as batch:
            for piece in pieces:
                row = {"run_id": run_id, "content_id": piece.id, **piece.model_dump(mode="json")}
                batch.put_item(Item=to_item(row))
                count += 1
        return count

    def list_content(self, run_id: str) -> list[Conversation | Story]:
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("run_id").eq(run_id)}
        while True:
            page = self._table.query(**kwargs)
            rows.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        pieces: list[Conversation | Story] = []
        for row in rows:
            data = from_item(row)
            model: type[Conversation] | type[Story] = Conversation if data["kind"] == "conversation" else Story
            pieces.append(model.model_validate(data))
        return pieces

"""Learning items in DynamoDB (ItemsTable, PK run_id, SK item_id). Writing twice overwrites: idempotent.

Writes go through `BatchWriteItem` in chunks of 25. What DynamoDB hands back as `UnprocessedItems`,
and throttling errors that outlast botocore's own retries, are resent with exponential back-off
and full jitter; after `attempts` tries the write raises `ItemsWriteFailed`, so an item is never
dropped silently (Finalize fails, and Step Functions retries it).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from havachat.aws.dynamo import from_item, to_item
from havachat.models import LearningItem

BATCH_WRITE_LIMIT = 25  # DynamoDB's maximum per BatchWriteItem
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "InternalServerError"}
)


class ItemsWriteFailed(Exception):
    """DynamoDB kept some items unprocessed (or kept throttling) through every attempt."""


class DynamoItems:
    def __init__(
        self,
        table_name: str,
        resource: Any = None,
        *,
        attempts: int = 8,
        backoff_s: float = 0.05,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self._client = self._table.meta.client  # the resource's client: takes plain Python values
        self.table_name = table_name
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s

    def put_items(self, run_id: str, items: Iterable[LearningItem]) -> int:
        """Write the items (one row per item id); returns how many rows were written."""
        rows = {
            item.id: to_item({"run_id": run_id, "item_id": item.id, **item.model_dump(mode="json")}) for item in items
        }
        requests = [{"PutRequest": {"Item": row}} for row in rows.values()]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            self._write(requests[start : start + BATCH_WRITE_LIMIT])
        return len(rows)

    def _write(self, chunk: list[dict[str, Any]]) -> None:
        pending = chunk
        last_problem = ""
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(random.uniform(0, min(self._max_backoff_s, self._backoff_s * 2**attempt)))
            try:
                response = self._client.batch_write_item(RequestItems={self.table_name: pending})
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in THROTTLING_CODES:
                    raise
                last_problem = code
                continue
            pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
            last_problem = f"{len(pending)} unprocessed items"
        raise ItemsWriteFailed(
            f"{len(pending)} of {len(chunk)} items not written to {self.table_name} after "
            f"{self._attempts} attempts ({last_problem})"
        )

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

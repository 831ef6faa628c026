"""What the DynamoDB adapters share: Decimal conversions and a table of rows keyed by run id.

Writes go through `BatchWriteItem` in chunks of 25. What DynamoDB hands back as `UnprocessedItems`,
and throttling errors that outlast botocore's own retries, are resent with exponential back-off
and full jitter; after `attempts` tries the write raises `RowsWriteFailed`, so a row is never
dropped silently (the step fails, and Step Functions or the event's retry policy retries it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from havachat.aws.retry import backoff_attempts

BATCH_WRITE_LIMIT = 25  # DynamoDB's maximum per BatchWriteItem
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "InternalServerError"}
)


class RowsWriteFailed(Exception):
    """DynamoDB kept some rows unprocessed (or kept throttling) through every attempt."""


def to_item(value: Any) -> Any:
    """A JSON-like value with floats as Decimal (what boto3's resource layer accepts)."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_item(value: Any) -> Any:
    """A DynamoDB item back to JSON-like values: Decimal becomes int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_item(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_item(v) for v in value]
    return value


class RunRows:
    """A table with partition key `run_id`: retried batch writes, and every row of one run."""

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

    def put_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write the rows (JSON-like values; keys must be unique, as one BatchWriteItem refuses repeats)."""
        requests = [{"PutRequest": {"Item": to_item(row)}} for row in rows]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            self._write(requests[start : start + BATCH_WRITE_LIMIT])

    def rows_of_run(self, run_id: str) -> list[dict[str, Any]]:
        """Every row of the run, all query pages, as JSON-like values."""
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("run_id").eq(run_id)}
        while True:
            page = self._table.query(**kwargs)
            rows.extend(from_item(row) for row in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _write(self, chunk: list[dict[str, Any]]) -> None:
        pending = chunk
        last_problem = ""
        for _ in backoff_attempts(self._attempts, self._backoff_s, self._max_backoff_s):
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
            last_problem = f"{len(pending)} unprocessed rows"
        raise RowsWriteFailed(
            f"{len(pending)} of {len(chunk)} rows not written to {self.table_name} after "
            f"{self._attempts} attempts ({last_problem})"
        )

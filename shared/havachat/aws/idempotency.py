"""Powertools idempotency over IdempotencyTable (partition key `id`, TTL attribute `expiration`).

A step wrapped in `IdempotencyStore.once` runs once per key: a repeat within the record's
lifetime gets the stored result back without running the step again. Records live 26 hours,
longer than the EventBridge retry window (24 hours), so a late redelivery still finds them. A
record left INPROGRESS by an invocation that timed out expires with that invocation's deadline
(the Lambda context is registered), after which a retry proceeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

RECORD_TTL_SECONDS = 26 * 3600  # EventBridge retries an event for up to 24 h; 2 h margin


class IdempotencyStore:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client or boto3.client("dynamodb")

    def once(
        self,
        step: Callable[[], dict[str, Any]],
        *,
        name: str,
        key: dict[str, Any],
        context: Any = None,
    ) -> dict[str, Any]:
        """`step()`'s result, stored under `name#md5(key)`; the stored result if the key was seen.

        Raises Powertools' `IdempotencyAlreadyInProgressError` while another invocation holds the
        key and its deadline has not passed. A step that raises leaves no record (it may be retried).
        """
        config = IdempotencyConfig(expires_after_seconds=RECORD_TTL_SECONDS, raise_on_no_idempotency_key=True)
        if context is not None:
            config.register_lambda_context(context)
        # One persistence layer per call: Powertools configures it per function, and calls may run in parallel.
        layer = DynamoDBPersistenceLayer(table_name=self.table_name, boto3_client=self._client)

        @idempotent_function(data_keyword_argument="key", persistence_store=layer, config=config, key_prefix=name)
        def run_once(key: dict[str, Any]) -> dict[str, Any]:
            return step()

        result: dict[str, Any] = run_once(key=key)
        return result

"""Completion events on EventBridge: source `havachat.pipeline`.

`PutEvents` can succeed as a call and still reject the entry (`FailedEntryCount > 0`, e.g.
`ThrottlingException` or `InternalFailure` per entry); throttling of the call itself outlasting
botocore's retries is treated the same. Both are resent with back-off; after `attempts` tries
`EventPublishFailed` is raised, never swallowed, so Finalize fails and Step Functions retries it.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from havachat.aws.retry import backoff_attempts

SOURCE = "havachat.pipeline"
_TRANSIENT_CODES = frozenset({"ThrottlingException", "InternalException", "InternalFailure", "ServiceUnavailable"})


class EventPublishFailed(Exception):
    """EventBridge kept rejecting the entry."""


class EventBridgePublisher:
    def __init__(self, bus_name: str, client: Any = None, attempts: int = 5, backoff_s: float = 0.2) -> None:
        self.bus_name = bus_name
        self._events = client or boto3.client("events")
        self._attempts = attempts
        self._backoff_s = backoff_s

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, ensure_ascii=False),
            "EventBusName": self.bus_name,
        }
        last_error = ""
        for _ in backoff_attempts(self._attempts, self._backoff_s):
            try:
                response = self._events.put_events(Entries=[entry])
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in _TRANSIENT_CODES:
                    raise
                last_error = code
                continue
            if not response.get("FailedEntryCount"):
                return
            failed = response["Entries"][0]
            last_error = f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
        raise EventPublishFailed(
            f"{detail_type} not accepted by bus {self.bus_name} after {self._attempts} attempts: {last_error}"
        )

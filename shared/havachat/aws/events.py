"""Completion events on EventBridge: source `havachat.pipeline`."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

SOURCE = "havachat.pipeline"


class EventPublishFailed(Exception):
    """EventBridge kept rejecting the entry."""


class EventBridgePublisher:
    def __init__(self, bus_name: str, client: Any = None, attempts: int = 3, backoff_s: float = 0.2) -> None:
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
        for attempt in range(self._attempts):
            response = self._events.put_events(Entries=[entry])
            if not response.get("FailedEntryCount"):
                return
            failed = response["Entries"][0]
            last_error = f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
            time.sleep(self._backoff_s * 2**attempt)
        raise EventPublishFailed(f"{detail_type} not accepted by bus {self.bus_name}: {last_error}")

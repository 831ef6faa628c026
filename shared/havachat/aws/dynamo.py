"""DynamoDB needs Decimal for numbers: the conversions both adapters share."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


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

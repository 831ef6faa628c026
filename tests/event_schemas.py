"""The committed event schemas (`schemas/<detail-type>.json`) as checks of every event a test captures."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft4Validator

from havachat_local.event_schemas import SCHEMAS_DIR
from tests.helpers import ROOT

Drain = Callable[[], list[dict[str, Any]]]


@cache
def validator(detail_type: str) -> Draft4Validator:
    """The validator of `detail_type`'s committed schema (FileNotFoundError for an event without one)."""
    path = ROOT / SCHEMAS_DIR / f"{detail_type}.json"
    return Draft4Validator(json.loads(path.read_text(encoding="utf-8")))


def check_detail(detail_type: str, detail: Any) -> None:
    """Raise `jsonschema.ValidationError` unless `detail` matches `detail_type`'s committed schema."""
    validator(detail_type).validate(detail)


def check_captured_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `LocalPipeline.capture_events`' drain check every event it returns against its schema."""
    from havachat_local.runner import LocalPipeline  # here: the unit tests' fakes use this module without moto

    capture: Callable[..., AbstractContextManager[Drain]] = LocalPipeline.capture_events

    @contextmanager
    def checked(self: LocalPipeline, detail_types: tuple[str, ...] = ()) -> Iterator[Drain]:
        with capture(self, detail_types) as drain:

            def checked_drain() -> list[dict[str, Any]]:
                events = drain()
                for event in events:
                    check_detail(event["detail-type"], event["detail"])
                return events

            yield checked_drain

    monkeypatch.setattr(LocalPipeline, "capture_events", checked)

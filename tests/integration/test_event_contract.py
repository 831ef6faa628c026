"""Events drained from the local bus are checked against their committed schemas (tests/event_schemas.py)."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError

from havachat.aws.events import EventBridgePublisher
from havachat.pipeline.contracts import GENERATED
from havachat_local.runner import LocalPipeline
from tests.helpers import load_event


def test_a_malformed_event_on_the_bus_fails_the_drain(local: LocalPipeline) -> None:
    publisher = EventBridgePublisher(local.bus_name, local.events)
    detail = load_event("learning_items_generated")["detail"]
    del detail["output"]

    with local.capture_events() as drain:
        publisher.publish(GENERATED, detail)
        with pytest.raises(ValidationError, match="'output' is a required property"):
            drain()

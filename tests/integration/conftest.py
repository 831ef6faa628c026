"""Fixtures for handler and state machine tests on in-process moto, resources built from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from havachat.llm import InstructorClaude
from havachat.settings import Settings
from havachat_local.runner import LocalPipeline
from tests.event_schemas import check_captured_events
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import ROOT


@pytest.fixture
def fake_claude() -> FakeClaude:
    return FakeClaude()


@pytest.fixture
def settings() -> Settings:
    return Settings(sdk_max_retries=0)


@pytest.fixture
def local(fake_claude: FakeClaude, settings: Settings) -> Iterator[LocalPipeline]:
    """moto with the template's bucket, tables and bus, the routed functions and the state machine."""
    llm = InstructorClaude(
        fake_claude.client(max_retries=settings.sdk_max_retries),
        model=settings.model,
        validation_max_retries=settings.validation_max_retries,
    )
    with LocalPipeline(llm, settings=settings, root=ROOT) as pipeline:
        yield pipeline


@pytest.fixture(autouse=True)
def _captured_events_match_their_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event a test drains from `LocalPipeline.capture_events` is checked against its schema."""
    check_captured_events(monkeypatch)

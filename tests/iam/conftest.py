"""Fixtures of the IAM tier: the pipeline on moto with IAM enforced and the template's roles (tests/iam)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from havachat_local.runner import LocalPipeline
from havachat_local.sam_roles import TemplateRoles
from tests.event_schemas import check_captured_events
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import ROOT
from tests.iam.support import iam_pipeline


@pytest.fixture(scope="session")
def template_roles() -> TemplateRoles:
    """template.yaml's roles as aws-sam-translator makes them (translated once per test session)."""
    return TemplateRoles.translate(ROOT)


@pytest.fixture
def fake_claude() -> FakeClaude:
    return FakeClaude()


@pytest.fixture
def iam_local(fake_claude: FakeClaude, template_roles: TemplateRoles) -> Iterator[LocalPipeline]:
    with iam_pipeline(fake_claude, template_roles) as pipeline:
        yield pipeline


@pytest.fixture(autouse=True)
def _captured_events_match_their_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event a test drains from `LocalPipeline.capture_events` is checked against its schema."""
    check_captured_events(monkeypatch)

"""A capped run with IAM enforced: GenerateBatch's role reads the run's spend and adds to it."""

from __future__ import annotations

import pytest

from havachat.llm import InstructorClaude
from havachat.pipeline.contracts import RunStatus
from havachat.settings import Settings
from havachat_local.runner import LocalPipeline
from havachat_local.sam_roles import TemplateRoles
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import FIXTURES_DIR, ROOT
from tests.iam.support import why

pytestmark = pytest.mark.iam


def test_a_capped_run_counts_its_spend_on_the_functions_roles(template_roles: TemplateRoles) -> None:
    # Given a cap well above the run's cost, every function on its own role
    fake = FakeClaude()
    settings = Settings(sdk_max_retries=0, max_run_cost_usd=100)
    llm = InstructorClaude(fake.client(max_retries=0), model=settings.model)

    # (one batch at a time: moto, unlike DynamoDB, does not serialise concurrent updates of one item)
    with LocalPipeline(llm, settings=settings, root=ROOT, iam=template_roles, map_concurrency=1) as local:
        # When the run executes
        result = local.run_file(FIXTURES_DIR / "vocab" / "zh_hsk1.csv", language="zh", level="HSK1")

        # Then it succeeded, and the run record holds its spend (GetItem and UpdateItem on RunsTable)
        assert result.summary is not None and result.summary.status is RunStatus.SUCCEEDED, why(result)
        assert local.deps is not None
        record = local.deps.runs.get(result.summary.run_id)
        assert record is not None and record.max_cost_usd == 100
        assert record.spent_usd == pytest.approx(result.summary.cost_usd, abs=1e-5)

"""Message Batches mode with IAM enforced: the new states need no grant beyond the template's roles."""

from __future__ import annotations

import pytest

from havachat.llm import InstructorClaude
from havachat.pipeline.contracts import RunStatus
from havachat.settings import LlmMode, Settings
from havachat_local.runner import LocalPipeline
from havachat_local.sam_roles import TemplateRoles
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import FIXTURES_DIR, ROOT
from tests.iam.support import why

pytestmark = pytest.mark.iam

HSK1 = FIXTURES_DIR / "vocab" / "zh_hsk1.csv"


def test_a_batch_mode_run_succeeds_with_each_function_on_its_own_role(
    fake_claude: FakeClaude, template_roles: TemplateRoles
) -> None:
    fake_claude.script(batch_result="expired", match="Category: cultural\n")  # one batch left to the Map
    settings = Settings(sdk_max_retries=0, llm_mode=LlmMode.BATCH, batch_poll_seconds=0)
    llm = InstructorClaude(fake_claude.client(max_retries=0), model=settings.model)

    with LocalPipeline(llm, settings=settings, root=ROOT, iam=template_roles) as local:
        result = local.run_file(HSK1, language="zh", level="HSK1")

    summary = result.summary
    assert result.execution_status == "SUCCEEDED", why(result)
    assert summary is not None and summary.status is RunStatus.SUCCEEDED, why(result)
    assert len(fake_claude.batch_requests) == 9 and len(fake_claude.requests) == 1

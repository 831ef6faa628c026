"""Helpers of the IAM tier's tests: a pipeline with the given roles, and why a run failed."""

from __future__ import annotations

import json

from havachat.llm import InstructorClaude
from havachat.settings import Settings
from havachat_local.runner import LocalPipeline, RunResult
from havachat_local.sam_roles import TemplateRoles
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import ROOT


def iam_pipeline(fake: FakeClaude, roles: TemplateRoles) -> LocalPipeline:
    """The local pipeline over `fake`, IAM enforced, `roles` as the functions' and the state machine's roles."""
    settings = Settings(sdk_max_retries=0)
    llm = InstructorClaude(fake.client(max_retries=0), model=settings.model)
    return LocalPipeline(llm, settings=settings, root=ROOT, iam=roles)


def why(result: RunResult) -> str | None:
    """What went wrong, for assertion messages: the run record's error (type and message), else the execution's."""
    error = result.summary.error if result.summary is not None else None
    if not error:
        return result.execution_cause
    try:
        cause = json.loads(str(error.get("Cause")))
    except ValueError:
        return f"{error.get('Error')}: {error.get('Cause')}"
    return f"{error.get('Error')}: {cause.get('errorMessage', cause) if isinstance(cause, dict) else cause}"

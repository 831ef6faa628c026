"""Message Batches mode in the state machine: its states' shape, and whole runs on moto with the real handlers."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from havachat.pipeline.contracts import MESSAGE_BATCH, PlanOutput, RunStatus
from havachat.pipeline.message_batch import MessageBatchInput, MessageBatchState
from havachat.settings import LlmMode, Settings
from havachat_local.runner import LocalPipeline
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import FIXTURES_DIR, ROOT

HSK1 = FIXTURES_DIR / "vocab" / "zh_hsk1.csv"
TASKS = ("SubmitMessageBatch", "PollMessageBatch", "CollectMessageBatch")


def _states() -> dict[str, Any]:
    states: dict[str, Any] = json.loads((ROOT / "statemachine" / "pipeline.asl.json").read_text())["States"]
    return states


@pytest.fixture
def fake_claude() -> FakeClaude:
    return FakeClaude(batch_polls=3)  # in progress on the first two polls


@pytest.fixture
def settings() -> Settings:
    return Settings(sdk_max_retries=0, llm_mode=LlmMode.BATCH, batch_poll_seconds=0)


def test_batch_mode_branches_after_the_duplicate_check_and_loops_wait_poll_until_the_batch_ends() -> None:
    states = _states()
    assert states["IsDuplicate"]["Default"] == "LlmMode"
    [batch] = states["LlmMode"]["Choices"]
    assert (batch["Variable"], batch["StringEquals"], batch["Next"]) == ("$.plan.llm_mode", "batch", TASKS[0])
    assert states["LlmMode"]["Default"] == "WarmCache"  # sync mode as before
    assert states["MessageBatchSubmitted"]["Default"] == "WarmCache"  # nothing submitted: sync mode
    assert states["WaitForMessageBatch"]["SecondsPath"].removeprefix("$.plan.") in PlanOutput.model_fields
    assert states["WaitForMessageBatch"]["Next"] == "PollMessageBatch"
    ended = {c["StringEquals"]: c["Next"] for c in states["MessageBatchEnded"]["Choices"]}
    assert ended == {"ended": "CollectMessageBatch", "gave_up": "GenerateBatches"}
    assert states["MessageBatchEnded"]["Default"] == "WaitForMessageBatch"
    assert states["CollectMessageBatch"]["Next"] == "GenerateBatches"


def test_the_message_batch_tasks_call_generate_batch_with_their_action_and_fall_back_to_sync_mode() -> None:
    states = _states()
    actions = get_args(MessageBatchInput.model_fields["action"].annotation)
    for name, action in zip(TASKS, actions, strict=True):
        task = states[name]
        payload = task["Parameters"]["Payload"]["message_batch"]
        assert task["Parameters"]["FunctionName"] == "${GenerateBatchFunctionArn}"
        assert payload["action"] == action
        assert {k.removesuffix(".$") for k in payload} <= MessageBatchInput.model_fields.keys()
        for path in task["ResultSelector"].values():
            assert path.removeprefix("$.Payload.") in MessageBatchState.model_fields, (name, path)
        [catch] = task["Catch"]
        assert catch["Next"] in ("WarmCache", "GenerateBatches") and catch["ResultPath"] != "$"
        assert task["ResultPath"] == "$.message_batch"


def test_a_batch_mode_run_sends_every_batch_in_one_message_batch_and_retries_the_failed_ones_in_the_map(
    local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    fake_claude.script(batch_result="expired", match="Category: cultural\n")
    fake_claude.script(batch_result="errored", match="Category: idiom\n")

    result = local.run_file(HSK1, language="zh", level="HSK1")

    assert result.execution_status == "SUCCEEDED", result.execution_cause
    summary = result.summary
    assert summary is not None and summary.status is RunStatus.SUCCEEDED and summary.succeeded_batches == 9
    assert len(fake_claude.batch_requests) == 9 and fake_claude.warm_ups == []  # no warm-up in batch mode
    assert len(fake_claude.requests) == 2  # the expired and the errored request, through the sync path
    assert MESSAGE_BATCH not in summary.usage_by_category  # expired and errored requests are not billed
    assert summary.usage.calls == 9


def test_a_request_that_also_fails_in_the_map_leaves_a_batch_mode_run_partial(
    local: LocalPipeline, fake_claude: FakeClaude
) -> None:
    fake_claude.script(batch_result="expired", match="Category: cultural\n")
    fake_claude.script(status=400, match="Category: cultural\n")

    result = local.run_file(HSK1, language="zh", level="HSK1")

    assert result.execution_status == "SUCCEEDED", result.execution_cause
    summary = result.summary
    assert summary is not None and summary.status is RunStatus.PARTIAL
    assert [(b.batch_id, b.error_type) for b in summary.failed_batches] == [("cultural-0000", "LlmRequestRejected")]

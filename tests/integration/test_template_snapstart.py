"""GenerateBatch runs with SnapStart, which needs a published version: the state machine invokes its alias."""

from __future__ import annotations

from havachat_local.runner import LocalPipeline
from havachat_local.template import FUNCTION_TYPES


def test_generate_batch_has_snapstart_and_the_state_machine_invokes_its_alias(local: LocalPipeline) -> None:
    properties = local.info.resources(FUNCTION_TYPES)["GenerateBatchFunction"]["Properties"]
    assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    alias = local.info.functions()["GenerateBatchFunction"].alias
    assert alias == properties["AutoPublishAlias"]

    definition = local.sfn.describe_state_machine(stateMachineArn=local.state_machine_arn)["definition"]

    assert f'"{local.function_arns["GenerateBatchFunction"]}:{alias}"' in definition
    assert f'"{local.function_arns["PlanFunction"]}"' in definition  # unqualified: no alias

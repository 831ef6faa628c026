"""Every run uses the code and settings of the last deploy: the state machine invokes unqualified functions.

A published version (AutoPublishAlias, which SnapStart needs) is re-published by SAM only when the
function's own properties change, so a change in a layer or a parameter would leave it on old code.
"""

from __future__ import annotations

from havachat_local.runner import LocalPipeline
from havachat_local.template import FUNCTION_TYPES


def test_no_function_is_pinned_to_a_published_version(local: LocalPipeline) -> None:
    functions = local.info.resources(FUNCTION_TYPES)
    pinned = {lid for lid, f in functions.items() if {"AutoPublishAlias", "SnapStart"} & set(f["Properties"])}
    assert pinned == set()


def test_the_state_machine_invokes_each_function_unqualified(local: LocalPipeline) -> None:
    definition = local.sfn.describe_state_machine(stateMachineArn=local.state_machine_arn)["definition"]

    for name in ("PlanFunction", "GenerateBatchFunction", "FinalizeFunction"):
        assert f'"{local.function_arns[name]}"' in definition
        assert f'"{local.function_arns[name]}:' not in definition

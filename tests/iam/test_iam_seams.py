"""Guards of the moto internals the IAM tier patches (moto==5.2.5): if one moves, these fail, not the tier silently.

`havachat_local.iam` gives moto's responses a `_determine_resource`, swaps the IAM request classes,
wraps S3's key response, and replaces the `boto3` that Step Functions' `boto_client_for` uses.
"""

from __future__ import annotations

import inspect

import pytest
from moto.core import responses as core_responses
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam import access_control
from moto.s3.responses import S3Response
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as result_writer,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.utils import boto_client

from havachat_local import iam
from havachat_local.runner import REGION, LocalPipeline

pytestmark = pytest.mark.iam


def test_moto_authorizes_through_the_hooks_the_tier_patches() -> None:
    # call_action asks `_determine_resource` for the resource, the mixins import the request classes per call
    assert "self._determine_resource()" in inspect.getsource(core_responses.BaseResponse.call_action)
    normal = inspect.getsource(ActionAuthenticatorMixin._authenticate_and_authorize_normal_action)
    s3 = inspect.getsource(ActionAuthenticatorMixin._authenticate_and_authorize_s3_action)
    assert "from moto.iam.access_control import IAMRequest" in normal
    assert "from moto.iam.access_control import S3IAMRequest" in s3
    assert list(inspect.signature(S3Response._key_response).parameters) == ["self", "request", "full_url"]


def test_moto_has_no_resource_of_its_own_for_the_services_the_tier_scopes() -> None:
    # If moto learns one, the tier's would hide it: compare them before dropping the tier's
    for response_class in iam._RESOURCES:
        assert "_determine_resource" not in vars(response_class), response_class.__name__


def test_step_functions_builds_its_clients_through_boto_client_for() -> None:
    assert list(inspect.signature(boto_client.boto_client_for).parameters) == ["region", "service", "state_credentials"]
    assert 'aws_access_key_id="ak"' in inspect.getsource(boto_client.boto_client_for)
    for module in (lambda_eval_utils, item_reader, result_writer):
        assert module.boto_client_for is boto_client.boto_client_for, module.__name__


def test_while_the_tier_runs_step_functions_clients_hold_the_state_machine_roles_credentials(
    iam_local: LocalPipeline,
) -> None:
    assert iam_local.iam is not None
    role = iam_local.iam.state_machine_session().get_credentials()
    assert role is not None

    client = boto_client.boto_client_for(REGION, "lambda")

    assert client._request_signer._credentials.access_key == role.access_key


def test_the_patches_end_with_the_pipeline(iam_local: LocalPipeline) -> None:
    assert access_control.IAMRequest is iam._IamRequest

    iam_local.__exit__(None, None, None)

    assert access_control.IAMRequest is not iam._IamRequest
    assert access_control.S3IAMRequest is not iam._S3IamRequest
    assert boto_client.boto3 is not None and not isinstance(boto_client.boto3, iam._Boto3WithCredentials)
    assert all("_determine_resource" not in vars(response_class) for response_class in iam._RESOURCES)

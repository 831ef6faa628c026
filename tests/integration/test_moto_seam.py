"""Guard: the local runner routes moto's docker-less Lambda invoke to the real handlers.

If moto changes `LambdaSimpleBackend.invoke` (name, module or parameters), or stops sending
Step Functions' lambda:invoke through it, these tests fail here rather than as a mystery in the
end-to-end tests. Pinned: moto==5.2.5 (pyproject.toml).
"""

from __future__ import annotations

import inspect
import json

import moto
import pytest
from botocore.exceptions import ClientError
from moto.awslambda_simple.models import LambdaSimpleBackend

from havachat.llm import InstructorClaude
from havachat.settings import Settings
from havachat_local.runner import LocalPipeline
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import ROOT


def test_moto_version_is_the_pinned_one() -> None:
    assert moto.__version__ == "5.2.5", "the runner patches moto internals; re-check the seam before upgrading"


def test_the_seam_has_the_signature_the_runner_replaces() -> None:
    parameters = list(inspect.signature(LambdaSimpleBackend.invoke).parameters)
    assert parameters == ["self", "function_name", "qualifier", "body", "headers", "response_headers"]


def test_the_interpreter_parses_json_paths_through_the_function_the_runner_caches() -> None:
    from jsonpath_ng.ext import parse
    from moto.stepfunctions.parser.asl.utils import json_path

    assert json_path.parse is parse and "parse(" in inspect.getsource(json_path.extract_json)


def test_a_definition_is_validated_by_the_static_function_the_runner_caches() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    validate = inspect.getattr_static(StepFunctionsParserBackend, "_validate_definition")
    assert isinstance(validate, staticmethod) and list(inspect.signature(validate).parameters) == ["definition"]
    assert "_validate_definition(definition=definition)" in inspect.getsource(StepFunctionsParserBackend)


def test_a_task_builds_its_lambda_client_through_the_function_the_runner_caches() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    assert lambda_eval_utils.boto_client_for is boto_client.boto_client_for
    assert "boto_client_for(" in inspect.getsource(lambda_eval_utils._invoke_lambda_function)
    assert "boto3.client(" in inspect.getsource(boto_client.boto_client_for)  # the IAM tier's stand-in seam


def test_a_dynamodb_item_is_measured_by_the_dict_the_runner_measures_once() -> None:
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    assert list(inspect.signature(Item.__init__).parameters) == ["self", "hash_key", "range_key", "attrs"]
    assert "LimitedSizeDict()" in inspect.getsource(Item.__init__)
    assert "405000" in inspect.getsource(LimitedSizeDict.__setitem__)


def test_the_local_run_refuses_an_item_over_dynamodb_s_size_limit_like_moto_does(local: LocalPipeline) -> None:
    table = local.session.resource("dynamodb").Table(local.settings.items_table)
    table.put_item(Item={"run_id": "r", "item_id": "small", "text": "x" * 300_000})
    with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        table.put_item(Item={"run_id": "r", "item_id": "large", "a": "x" * 300_000, "b": "y" * 110_000})
    assert table.get_item(Key={"run_id": "r", "item_id": "small"})["Item"]["text"] == "x" * 300_000


def test_a_lambda_invoke_reaches_the_real_handler_and_errors_keep_their_class_name(
    local: LocalPipeline,
) -> None:
    response = local.awslambda.invoke(FunctionName="FinalizeFunction", Payload=json.dumps({"nothing": 1}).encode())

    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "ValidationError"  # the handler parsed the event and rejected it


def test_the_seam_is_patched_only_while_the_runner_is_open(fake_claude: FakeClaude) -> None:
    original = LambdaSimpleBackend.invoke

    with LocalPipeline(InstructorClaude(fake_claude.client(), model=Settings().model), root=ROOT):
        assert LambdaSimpleBackend.invoke is not original

    assert LambdaSimpleBackend.invoke is original

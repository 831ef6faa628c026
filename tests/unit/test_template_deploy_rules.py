"""Rules a first real deploy depends on, read from template.yaml and the state machine definition.

What IAM grants each function is proved by running the pipeline under its role (tests/iam); these
are the settings around it that no run on moto can exercise.
"""

from __future__ import annotations

import json
from typing import Any

from havachat.ledger import price_for
from havachat_local.template import load_template
from tests.helpers import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
DEFINITION = json.loads((ROOT / "statemachine" / "pipeline.asl.json").read_text(encoding="utf-8"))


def _uses_stack_name(value: Any) -> bool:
    return "AWS::StackName" in json.dumps(value)


def test_names_that_must_be_unique_in_an_account_come_from_the_stack_name() -> None:
    named = {
        "EventBus": RESOURCES["EventBus"]["Properties"]["Name"],
        "AnthropicApiKeySecret": RESOURCES["AnthropicApiKeySecret"]["Properties"]["Name"],
        "PipelineStateMachine": RESOURCES["PipelineStateMachine"]["Properties"]["Name"],
    }
    assert {name for name, value in named.items() if not _uses_stack_name(value)} == set()
    layers = [lid for lid, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::LayerVersion"]
    assert [lid for lid in layers if "LayerName" in RESOURCES[lid]["Properties"]] == [], "SAM names layers per stack"


def test_the_api_key_secret_exists_only_for_the_anthropic_provider() -> None:
    assert RESOURCES["AnthropicApiKeySecret"]["Condition"] == "UseAnthropic"
    assert TEMPLATE["Outputs"]["AnthropicApiKeySecretArn"]["Condition"] == "UseAnthropic"
    secret_env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["HAVACHAT_ANTHROPIC_SECRET_NAME"]
    assert secret_env["Fn::If"][0] == "UseAnthropic"


def test_each_provider_defaults_to_a_model_id_it_serves_and_that_is_priced() -> None:
    assert TEMPLATE["Parameters"]["ModelId"]["Default"] == ""
    defaults = {provider: entry["Id"] for provider, entry in TEMPLATE["Mappings"]["DefaultModel"].items()}
    assert set(defaults) == set(TEMPLATE["Parameters"]["Provider"]["AllowedValues"])
    assert defaults["bedrock"].startswith(("anthropic.", "us.anthropic.", "eu.anthropic.", "apac.anthropic."))
    assert not defaults["anthropic"].startswith(("anthropic.", "us."))
    assert price_for(defaults["bedrock"]) == price_for(defaults["anthropic"])


def test_calls_in_flight_are_bounded_across_runs_and_a_throttled_invoke_waits_for_a_free_slot() -> None:
    reserved = RESOURCES["GenerateBatchFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {"Fn::If": ["LimitBatchesInFlight", {"Ref": "MaxBatchesInFlight"}, {"Ref": "AWS::NoValue"}]}
    assert (
        TEMPLATE["Parameters"]["MaxBatchesInFlight"]["Default"] >= TEMPLATE["Parameters"]["MapConcurrency"]["Default"]
    )

    generate = DEFINITION["States"]["GenerateBatches"]["ItemProcessor"]["States"]["GenerateBatch"]
    [throttled] = [r for r in generate["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
    waits = [
        min(throttled["MaxDelaySeconds"], throttled["IntervalSeconds"] * throttled["BackoffRate"] ** n)
        for n in range(throttled["MaxAttempts"])
    ]
    assert sum(waits) >= 600, "a slot frees when another run's call ends: calls take up to 10 minutes"


def test_every_lambda_task_retries_the_invoke_errors_lambda_can_return() -> None:
    wanted = {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.ClientExecutionTimeoutException",
    }
    tasks = {"Plan": DEFINITION["States"]["Plan"], "Finalize": DEFINITION["States"]["Finalize"]}
    tasks["GenerateBatch"] = DEFINITION["States"]["GenerateBatches"]["ItemProcessor"]["States"]["GenerateBatch"]
    for name, task in tasks.items():
        retried = {error for retrier in task["Retry"] for error in retrier["ErrorEquals"]}
        assert wanted <= retried, (name, wanted - retried)


def test_a_run_finalize_recorded_failed_fails_the_execution() -> None:
    states = DEFINITION["States"]
    assert states["Finalize"]["Next"] == "CheckOutcome"
    [choice] = states["CheckOutcome"]["Choices"]
    assert (choice["Variable"], choice["StringEquals"]) == ("$.summary.status", "FAILED")
    assert states[choice["Next"]]["Type"] == "Fail"

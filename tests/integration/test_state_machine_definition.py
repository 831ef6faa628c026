"""Static checks of statemachine/pipeline.asl.json: the rules the design sets for every state."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools.utilities.idempotency import exceptions as idempotency_exceptions

from havachat import errors
from tests.helpers import ROOT

DEFINITION = ROOT / "statemachine" / "pipeline.asl.json"


def _states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        if state["Type"] == "Map":
            yield from _states(state["ItemProcessor"]["States"])


def _definition() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFINITION.read_text(encoding="utf-8"))
    return data


def test_every_task_has_a_timeout_a_retry_with_jitter_and_a_catch() -> None:
    for name, state in _states(_definition()["States"]):
        if state["Type"] != "Task":
            continue
        assert state.get("TimeoutSeconds"), name
        assert state.get("Retry"), name
        for retrier in state["Retry"]:
            assert retrier.get("JitterStrategy") == "FULL" and retrier.get("BackoffRate", 1) > 1, name
        assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name


def test_named_errors_are_the_python_exception_class_names() -> None:
    named = {
        error
        for _, state in _states(_definition()["States"])
        for retrier in state.get("Retry", [])
        for error in retrier["ErrorEquals"]
        if not error.startswith(("States.", "Lambda."))
    }
    assert named == {"LlmThrottled", "LlmUnavailable", "IdempotencyAlreadyInProgressError"}
    for error in named - {"IdempotencyAlreadyInProgressError"}:
        assert issubclass(getattr(errors, error), errors.LlmError)
    # Plan waits for another invocation holding the object version's Powertools idempotency record
    assert issubclass(idempotency_exceptions.IdempotencyAlreadyInProgressError, Exception)


def test_substitutions_are_only_arns_and_names() -> None:
    text = DEFINITION.read_text(encoding="utf-8")
    assert set(re.findall(r"\$\{(\w+)\}", text)) == {
        "PlanFunctionArn",
        "GenerateBatchFunctionArn",
        "FinalizeFunctionArn",
        "DataBucketName",
    }


def test_the_map_is_distributed_over_the_s3_manifest_and_tolerates_failed_batches() -> None:
    map_state = _definition()["States"]["GenerateBatches"]
    assert map_state["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert map_state["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert map_state["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    assert isinstance(map_state["ToleratedFailurePercentage"], float)  # moto rejects an int
    assert map_state["ResultPath"] is None and "ResultWriter" in map_state


def test_result_selectors_read_fields_the_handlers_return() -> None:
    # A ResultSelector path that does not exist is a States.Runtime error, which the batch's
    # Catch would silently turn into a failed batch.
    from havachat.pipeline.contracts import BatchOutput, PlanOutput

    states = dict(_states(_definition()["States"]))
    batch_paths = states["GenerateBatch"]["ResultSelector"].values()
    for path in batch_paths:
        assert path.removeprefix("$.Payload.") in BatchOutput.model_fields, path
    map_state = states["GenerateBatches"]
    plan_paths = [*map_state["ItemSelector"].values(), map_state["ItemReader"]["Parameters"]["Key.$"]]
    for path in plan_paths:
        if path.startswith("$.plan."):
            assert path.removeprefix("$.plan.") in PlanOutput.model_fields, path
    # the Map runs as many batches at once as Plan decided (MapConcurrency, lowered to the rate limits)
    assert map_state["MaxConcurrencyPath"] == "$.max_concurrency"
    selected = states["Plan"]["ResultSelector"]["max_concurrency.$"]
    assert selected.removeprefix("$.Payload.") in PlanOutput.model_fields, selected

"""Finalize: merge the batches into results, complete the run record, publish the completion event.

Also the state machine's failure path: with `failure` set it records the run FAILED and
publishes `LearningItemsGenerationFailed` (unless the run belongs to another execution: a
duplicate execution's failure is not the run's).

With an execution id, finishing is idempotent through Powertools (IdempotencyTable): a retry of
a Finalize that completed returns its result without writing or publishing again.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

import havachat.aws.idempotency  # noqa: F401  (Powertools idempotency loads at init, with the other imports)
from havachat.aws.observability import RunReport, logger, metrics
from havachat.aws.wiring import AwsDeps, container_deps
from havachat.pipeline.contracts import FinalizeOutput, FinalizeRequest
from havachat.pipeline.finalize import finalize_request, finish_run

# A run is finished once per execution and path: the success path, or the failure path (`failure` set).
ONCE_PER_RUN_EXECUTION_AND_PATH = "{run_id: run_id, execution_id: execution_id, failure: failure != `null`}"


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: AwsDeps | None = None) -> dict[str, Any]:
    request = parse(event=event, model=FinalizeRequest)
    logger.thread_safe_append_keys(run_id=request.run_id)
    deps = deps or container_deps()
    output = finalize_request(
        request,
        store=deps.store,
        runs=deps.runs,
        items=deps.items,
        events=deps.events,
        report=RunReport(),
        finish_once=deps.once(
            finish_run,
            FinalizeOutput,
            name="finalize",
            key="request",
            key_fields=ONCE_PER_RUN_EXECUTION_AND_PATH,
            context=context,
        ),
    )
    return output.model_dump(mode="json")

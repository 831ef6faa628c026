"""Plan: validate the uploaded vocab, decide the batches, write the manifest, record the run.

Also the start of a resume: `{"resume_run_id": "<run id>"}` as the execution input re-runs the
failed batches of a PARTIAL or FAILED run.

The planning of one object version is idempotent through Powertools (IdempotencyTable, 26 h):
a repeat returns the stored plan without reading the file again, and a plan from another
execution comes back as a duplicate.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

import havachat.aws.idempotency  # noqa: F401  (Powertools idempotency loads at init, with the other imports)
from havachat.aws.observability import RunReport, logger, metrics
from havachat.aws.wiring import AwsDeps, container_deps
from havachat.pipeline.contracts import PlanOutput, PlanRequest
from havachat.pipeline.plan import plan_request, plan_upload


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: AwsDeps | None = None) -> dict[str, Any]:
    request = parse(event=event, model=PlanRequest)
    deps = deps or container_deps()
    output = plan_request(
        request,
        owner=request.owner(invocation_id=context.aws_request_id),
        store=deps.store,
        runs=deps.runs,
        settings=deps.settings,
        report=RunReport(),
        plan_once=deps.once(plan_upload, PlanOutput, name="plan", key="source", context=context),
    )
    return output.model_dump(mode="json")

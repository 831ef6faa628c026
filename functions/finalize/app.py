"""Finalize: merge the batches into results, complete the run record, publish the completion event.

Also the state machine's failure path: with `failure` set it records the run FAILED and
publishes `LearningItemsGenerationFailed` (unless the run belongs to another execution: a
duplicate execution's failure is not the run's).

With an execution id, finishing is idempotent through Powertools (IdempotencyTable): a retry of
a Finalize that completed returns its result without writing or publishing again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, model_validator

from havachat.aws.observability import logger, metrics
from havachat.aws.wiring import AwsDeps, container_deps
from havachat.pipeline.contracts import S3Object
from havachat.pipeline.finalize import finalize_step
from havachat.pipeline.keys import run_id_for

DEPS: AwsDeps | None = None  # built on first use; tests and the local runner assign their own


class ResumeInput(BaseModel):
    resume_run_id: str


class FinalizeRequest(BaseModel):
    """`{"run_id"}` after the Map, or `{"event": <execution input>, "failure": {"Error", "Cause"}}` on failure.

    The execution input is the S3 event, or `{"resume_run_id"}` for a resume.
    """

    run_id: str | None = None
    event: S3EventNotificationEventBridgeModel | ResumeInput | None = None
    failure: dict[str, Any] | None = None
    execution_id: str | None = None

    @model_validator(mode="after")
    def _has_run(self) -> FinalizeRequest:
        if self.run_id is None and self.event is None:
            raise ValueError("either run_id or event is required")
        return self

    def source(self) -> S3Object | None:
        if not isinstance(self.event, S3EventNotificationEventBridgeModel):
            return None
        obj = self.event.detail.object
        return S3Object(
            bucket=self.event.detail.bucket.name,
            key=unquote_plus(obj.key),
            version_id=obj.version_id,
            etag=obj.etag,
        )


def deps() -> AwsDeps:
    return DEPS or container_deps()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=FinalizeRequest)
    source = request.source()
    run_id = request.run_id
    if run_id is None and isinstance(request.event, ResumeInput):
        run_id = request.event.resume_run_id
    if run_id is None:
        assert source is not None  # the validator demands run_id or event
        run_id = run_id_for(source.bucket, source.key, source.version_id or source.etag)
    logger.append_keys(run_id=run_id)
    d = deps()
    if request.failure is not None and request.execution_id:
        record = d.runs.get(run_id)
        if record is not None and record.owner != request.execution_id:
            logger.warning("failure not recorded: the run belongs to another execution", extra={"owner": record.owner})
            return {"run_id": run_id, "status": record.status.value, "recorded": False}

    def finish() -> dict[str, Any]:
        summary = finalize_step(run_id, d.store, d.runs, d.items, d.events, failure=request.failure, source=source)
        metrics.add_metric(name=f"Runs{summary.status.value.title()}", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RunItems", unit=MetricUnit.Count, value=summary.items_total)
        metrics.add_metric(name="RunCostUSD", unit=MetricUnit.NoUnit, value=summary.cost_usd)
        logger.info("run finished", extra={"status": summary.status.value, "items": summary.items_total})
        return {
            "run_id": summary.run_id,
            "status": summary.status.value,
            "items_total": summary.items_total,
            "failed_batches": len(summary.failed_batches),
            "summary_key": summary.output.summary_key,
        }

    if d.idempotency is None or not request.execution_id:
        return finish()
    key = {"run_id": run_id, "execution_id": request.execution_id, "failure": request.failure is not None}
    return d.idempotency.once(finish, name="finalize", key=key, context=context)

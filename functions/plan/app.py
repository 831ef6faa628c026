"""Plan: validate the uploaded vocab, decide the batches, write the manifest, record the run.

Also the start of a resume: `{"resume_run_id": "<run id>"}` as the execution input re-runs the
failed batches of a PARTIAL or FAILED run.

The planning of one object version is idempotent through Powertools (IdempotencyTable, 26 h):
a repeat returns the stored plan without reading the file again, and a plan from another
execution comes back as a duplicate.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from havachat.aws.observability import logger, metrics
from havachat.aws.wiring import AwsDeps, container_deps
from havachat.pipeline.contracts import PlanOutput, S3Object
from havachat.pipeline.plan import plan_step, resume_step

DEPS: AwsDeps | None = None  # built on first use; tests and the local runner assign their own


class ResumeRequest(BaseModel):
    resume_run_id: str


class PlanRequest(BaseModel):
    """The state machine passes its input and execution id; `sam local invoke`, the bare event."""

    event: S3EventNotificationEventBridgeModel | ResumeRequest
    execution_id: str | None = None


def deps() -> AwsDeps:
    return DEPS or container_deps()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event if "event" in event else {"event": event}, model=PlanRequest)
    d = deps()
    if isinstance(request.event, ResumeRequest):
        owner = request.execution_id or f"resume-{context.aws_request_id}"
        output = resume_step(request.event.resume_run_id, owner=owner, store=d.store, runs=d.runs)
        logger.info("resume", extra={"run_id": output.run_id, "resumed": not output.duplicate, "note": output.note})
        return output.model_dump(mode="json")

    detail = request.event.detail
    source = S3Object(
        bucket=detail.bucket.name,
        key=unquote_plus(detail.object.key),
        version_id=detail.object.version_id,
        etag=detail.object.etag,
    )
    owner = request.execution_id or request.event.id
    logger.append_keys(bucket=source.bucket, key=source.key)

    def plan() -> dict[str, Any]:
        data, size = d.store.read_object(source.bucket, source.key, source.version_id, d.settings.max_file_bytes)
        output = plan_step(source, data, owner=owner, store=d.store, runs=d.runs, settings=d.settings, size=size)
        return output.model_dump(mode="json")

    if d.idempotency is None:
        result = plan()
    else:
        object_version = source.model_dump(include={"bucket", "key", "version_id", "etag"})
        result = d.idempotency.once(plan, name="plan", key=object_version, context=context)
    output = PlanOutput.model_validate(result)
    if output.owner is not None and output.owner != owner:  # the stored plan of another execution
        output = output.model_copy(update={"duplicate": True})
    metrics.add_metric(name="RunsDuplicate" if output.duplicate else "RunsPlanned", unit=MetricUnit.Count, value=1)
    planned = 0 if output.duplicate else output.batch_count
    metrics.add_metric(name="BatchesPlanned", unit=MetricUnit.Count, value=planned)
    logger.info(
        "planned",
        extra={
            "run_id": output.run_id,
            "batches": output.batch_count,
            "duplicate": output.duplicate,
            "reused_from": output.reused_from,
        },
    )
    return output.model_dump(mode="json")

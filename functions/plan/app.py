"""Plan: validate the uploaded vocab, decide the batches, write the manifest, record the run."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from havachat.aws.observability import logger, metrics, tracer
from havachat.aws.wiring import AwsDeps, container_deps
from havachat.pipeline import S3Object, plan_step

DEPS: AwsDeps | None = None  # built on first use; tests and the local runner assign their own


class PlanRequest(BaseModel):
    """The state machine passes the S3 event and its execution id; `sam local invoke`, the bare event."""

    event: S3EventNotificationEventBridgeModel
    execution_id: str | None = None


def deps() -> AwsDeps:
    return DEPS or container_deps()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event if "event" in event else {"event": event}, model=PlanRequest)
    detail = request.event.detail
    source = S3Object(
        bucket=detail.bucket.name,
        key=unquote_plus(detail.object.key),
        version_id=detail.object.version_id,
        etag=detail.object.etag,
    )
    logger.append_keys(bucket=source.bucket, key=source.key)
    d = deps()
    data = d.store.read_object(source.bucket, source.key, source.version_id, d.settings.max_file_bytes)
    output = plan_step(
        source,
        data,
        owner=request.execution_id or request.event.id,
        store=d.store,
        runs=d.runs,
        settings=d.settings,
    )
    metrics.add_metric(name="RunsDuplicate" if output.duplicate else "RunsPlanned", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BatchesPlanned", unit=MetricUnit.Count, value=output.batch_count)
    logger.info(
        "planned",
        extra={"run_id": output.run_id, "batches": output.batch_count, "duplicate": output.duplicate},
    )
    return output.model_dump(mode="json")

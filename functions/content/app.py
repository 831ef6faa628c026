"""Content (Stage 2): on `LearningItemsGenerated`, N conversations and N stories from the run's items.

Invoked asynchronously by the EventBridge rule on the pipeline's bus (SUCCEEDED and PARTIAL runs).
Imports the LLM stack, like GenerateBatch. A failure is raised so Lambda retries the event, then
sends it to the dead-letter queue; the content calls that did finish are kept for the retry.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from havachat.aws.observability import EmfBatchMetrics, logger, metrics, tracer
from havachat.aws.secrets import anthropic_api_key
from havachat.aws.wiring import AwsDeps, container_deps
from havachat.llm import make_llm
from havachat.llm_port import StructuredContentLlm
from havachat.pipeline.content import content_step
from havachat.pipeline.contracts import ItemsGeneratedDetail

DEPS: AwsDeps | None = None  # built on first use; tests and the local runner assign their own
LLM: StructuredContentLlm | None = None


class ItemsGeneratedEvent(EventBridgeModel):
    detail: ItemsGeneratedDetail


def deps() -> AwsDeps:
    return DEPS or container_deps()


def llm() -> StructuredContentLlm:
    global LLM
    if LLM is None:
        settings = deps().settings
        LLM = make_llm(settings, api_key=anthropic_api_key(settings))
    return LLM


@logger.inject_lambda_context(clear_state=True)
@tracer().capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = parse(event=event, model=ItemsGeneratedEvent).detail
    logger.append_keys(run_id=detail.run_id)
    d = deps()
    outcome = content_step(
        detail,
        store=d.store,
        rows=d.content,
        events=d.events,
        llm=llm,
        metrics_sink=EmfBatchMetrics(),
        settings=d.settings,
    )
    metrics.add_metric(name=f"ContentRuns{outcome.status.value.title()}", unit=MetricUnit.Count, value=1)
    logger.info("content done", extra=outcome.model_dump(mode="json"))
    return outcome.model_dump(mode="json")

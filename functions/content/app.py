"""Content (Stage 2): on `LearningItemsGenerated`, N conversations and N stories from the run's items.

Invoked asynchronously by the EventBridge rule on the pipeline's bus (SUCCEEDED and PARTIAL runs).
Imports the LLM stack, like GenerateBatch, through the LLM its deps build on first use
(`AwsDeps.content_llm`). A failure is raised so Lambda retries the event, then sends it to the
dead-letter queue; the content calls that did finish are kept for the retry.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

import havachat.llm  # noqa: F401  (the LLM stack loads at init, with the other imports)
from havachat.aws.observability import EmfBatchMetrics, logger, metrics, traced
from havachat.aws.wiring import AwsDeps, container_deps
from havachat.pipeline.content import content_step
from havachat.pipeline.contracts import ItemsGeneratedDetail


class ItemsGeneratedEvent(EventBridgeModel):
    detail: ItemsGeneratedDetail


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: AwsDeps | None = None) -> dict[str, Any]:
    detail = parse(event=event, model=ItemsGeneratedEvent).detail
    logger.thread_safe_append_keys(run_id=detail.run_id)
    deps = deps or container_deps()
    outcome = content_step(
        detail,
        store=deps.store,
        rows=deps.content,
        events=deps.events,
        llm=deps.content_llm,
        metrics_sink=EmfBatchMetrics(),
        settings=deps.settings,
    )
    metrics.add_metric(name=f"ContentRuns{outcome.status.value.title()}", unit=MetricUnit.Count, value=1)
    logger.info("content done", extra=outcome.model_dump(mode="json"))
    return outcome.model_dump(mode="json")

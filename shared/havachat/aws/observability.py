"""The one module creating Logger, Metrics and Tracer; service and namespace come from POWERTOOLS_* env.

The Tracer loads the X-Ray SDK (about a third of Plan's cold import, see docs/PERFORMANCE.md), so it is
made on first use by the handlers that call the LLM (`tracer()`); Plan and Finalize are still traced by
Lambda's active tracing and Step Functions, without subsegments of their own.
"""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from havachat.ledger import UsageTotals

logger = Logger()
metrics = Metrics()


@cache
def tracer() -> Tracer:
    return Tracer()


def record_batch_metrics(
    metrics: EphemeralMetrics, category: str, model: str, usage: UsageTotals, items: int, failed: bool
) -> None:
    """One EMF document for one batch, dimensions category and model.

    `metrics` should be a fresh `EphemeralMetrics`: its dimensions are its own, so batches
    running in parallel threads (the local runner) cannot mix their dimensions.
    """
    metrics.add_dimension(name="category", value=category)
    metrics.add_dimension(name="model", value=model)
    metrics.add_metric(name="InputTokens", unit=MetricUnit.Count, value=usage.input_tokens)
    metrics.add_metric(name="OutputTokens", unit=MetricUnit.Count, value=usage.output_tokens)
    metrics.add_metric(name="CacheWriteTokens", unit=MetricUnit.Count, value=usage.cache_write_tokens)
    metrics.add_metric(name="CacheReadTokens", unit=MetricUnit.Count, value=usage.cache_read_tokens)
    metrics.add_metric(name="LlmCalls", unit=MetricUnit.Count, value=usage.calls)
    metrics.add_metric(name="LlmAttempts", unit=MetricUnit.Count, value=usage.attempts)
    metrics.add_metric(name="LatencyMs", unit=MetricUnit.Milliseconds, value=usage.latency_ms)
    metrics.add_metric(name="ItemsGenerated", unit=MetricUnit.Count, value=items)
    metrics.add_metric(name="CostUSD", unit=MetricUnit.NoUnit, value=usage.cost_usd)
    metrics.add_metric(name="BatchFailures", unit=MetricUnit.Count, value=1 if failed else 0)
    metrics.flush_metrics()


class EmfBatchMetrics:
    """`havachat.pipeline.BatchMetricsSink` writing EMF to stdout (CloudWatch picks it up from the log)."""

    def record(self, *, category: str, model: str, usage: UsageTotals, items: int, failed: bool) -> None:
        record_batch_metrics(EphemeralMetrics(), category, model, usage, items, failed)

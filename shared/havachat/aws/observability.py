"""The one module creating Logger, Metrics and Tracer; service and namespace come from POWERTOOLS_* env.

Powertools' Tracer loads the X-Ray SDK, whose recorder builds botocore X-Ray clients at import (~0.25 s
of CPU, a fifth of an LLM handler's cold import, docs/PERFORMANCE.md (d)). So the SDK's subsegments are
opt-in: the LLM handlers are wrapped by `traced`, which adds the Tracer only when POWERTOOLS_TRACE_DISABLED
is false (the template's `TracingSubsegments=true`). Every function is still traced by Lambda's active
tracing and Step Functions either way; Plan and Finalize never load the SDK.

Handlers add their log keys with `logger.thread_safe_append_keys`: the local runner invokes them from
parallel threads, and `append_keys` is shared by all threads (powertools-lambda-python #2040).
`inject_lambda_context(clear_state=True)` clears the thread's keys at the start of each invocation.

The Lambda runtime sets the root logger to the function's log level. At DEBUG, botocore would log
response bodies (GetSecretValue's SecretString among them) and anthropic, httpx and instructor the
prompts with the vocabulary, so those libraries log at WARNING whatever the function's level.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

from havachat.ledger import UsageTotals
from havachat.pipeline.contracts import PlanOutput, RunRecord, RunSummary, S3Object

QUIET_LIBRARIES = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "anthropic",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "instructor",
    "openai",
    "aws_lambda_powertools",
    "aws_xray_sdk",
)
"""Libraries that log requests, responses or payloads at DEBUG: secrets, prompts and vocabulary."""

for _library in QUIET_LIBRARIES:
    logging.getLogger(_library).setLevel(logging.WARNING)

logger = Logger()
metrics = Metrics()


Handler = TypeVar("Handler", bound=Callable[..., Any])


def traced(handler: Handler) -> Handler:
    """`handler` under Powertools' Tracer (X-Ray subsegments of its S3, DynamoDB and Claude calls), unless
    POWERTOOLS_TRACE_DISABLED is true: then the X-Ray SDK is not imported at all."""
    if resolve_truthy_env_var_choice(env=os.getenv("POWERTOOLS_TRACE_DISABLED", "false")):
        return handler
    from aws_lambda_powertools import Tracer

    return cast(Handler, Tracer().capture_lambda_handler(handler, capture_response=False))


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


class RunReport:
    """Plan's and Finalize's report (`PlanReport`, `FinalizeReport` in `havachat.pipeline`): run metrics
    through `metrics` (flushed as EMF by the handler's `log_metrics`), log lines through `logger`."""

    def planned(self, output: PlanOutput, source: S3Object) -> None:
        metrics.add_metric(name="RunsDuplicate" if output.duplicate else "RunsPlanned", unit=MetricUnit.Count, value=1)
        planned = 0 if output.duplicate else output.batch_count
        metrics.add_metric(name="BatchesPlanned", unit=MetricUnit.Count, value=planned)
        logger.info(
            "planned",
            extra={
                "bucket": source.bucket,
                "key": source.key,
                "run_id": output.run_id,
                "batches": output.batch_count,
                "duplicate": output.duplicate,
                "reused_from": output.reused_from,
            },
        )

    def resumed(self, output: PlanOutput) -> None:
        logger.info("resume", extra={"run_id": output.run_id, "resumed": not output.duplicate, "note": output.note})

    def finished(self, summary: RunSummary) -> None:
        metrics.add_metric(name=f"Runs{summary.status.value.title()}", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RunItems", unit=MetricUnit.Count, value=summary.items_total)
        metrics.add_metric(name="RunCostUSD", unit=MetricUnit.NoUnit, value=summary.cost_usd)
        logger.info("run finished", extra={"status": summary.status.value, "items": summary.items_total})

    def failure_not_recorded(self, record: RunRecord) -> None:
        logger.warning("failure not recorded: the run belongs to another execution", extra={"owner": record.owner})

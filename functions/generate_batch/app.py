"""GenerateBatch: one category batch, one structured Claude call (split if the answer is cut off).

The only handler that imports the LLM stack (`havachat.llm`: anthropic + instructor).
Errors leave as the `havachat.errors` class names (`LlmThrottled`, ...), which the state
machine retries or catches by name.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from havachat.aws.observability import EmfBatchMetrics, logger, tracer
from havachat.aws.secrets import anthropic_api_key
from havachat.aws.wiring import AwsDeps, container_deps
from havachat.generation import BatchGenerator
from havachat.llm import make_llm
from havachat.llm_port import StructuredLlm
from havachat.offline import OfflineGenerator
from havachat.pipeline.contracts import BatchInput
from havachat.pipeline.generate import generate_step
from havachat.settings import Provider, resolve_provider

DEPS: AwsDeps | None = None  # built on first use; tests and the local runner assign their own
LLM: StructuredLlm | BatchGenerator | None = None


def deps() -> AwsDeps:
    return DEPS or container_deps()


def llm() -> StructuredLlm | BatchGenerator:
    """Claude (API key from Secrets Manager, or Bedrock), or the offline generator with HAVACHAT_PROVIDER=offline."""
    global LLM
    if LLM is None:
        settings = resolve_provider(deps().settings)
        if settings.provider is Provider.OFFLINE:
            LLM = OfflineGenerator()
        else:
            LLM = make_llm(settings, api_key=anthropic_api_key(settings))
    return LLM


@logger.inject_lambda_context(clear_state=True)
@tracer().capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch_input = parse(event=event, model=BatchInput)
    logger.append_keys(run_id=batch_input.run_id, batch_id=batch_input.batch.batch_id)
    d = deps()
    output = generate_step(batch_input, d.store, llm(), EmfBatchMetrics(), d.settings)
    logger.info("batch done", extra={"items": output.item_count, "cost_usd": output.usage.cost_usd})
    return output.model_dump(mode="json")

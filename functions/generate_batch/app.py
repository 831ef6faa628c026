"""GenerateBatch: one category batch, one structured Claude call (split if the answer is cut off).

The only handler that imports the LLM stack (`havachat.llm`: anthropic + instructor), through the
generator its deps build on first use (`AwsDeps.batch_generator`: Claude, or the offline generator
with HAVACHAT_PROVIDER=offline). Errors leave as the `havachat.errors` class names (`LlmThrottled`,
...), which the state machine retries or catches by name. An event with `warm_cache` is the WarmCache
state before the Map: it writes each chunk's prompt cache (`havachat.pipeline.warm`); one with
`message_batch` is a Message Batches mode state (`havachat.pipeline.message_batch`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

import havachat.llm  # noqa: F401  (the LLM stack loads at init, not in the first batch's time)
from havachat.aws.observability import EmfBatchMetrics, logger, traced
from havachat.aws.wiring import AwsDeps, container_deps
from havachat.pipeline.contracts import BatchInput
from havachat.pipeline.generate import generate_step, warm_within_cap
from havachat.pipeline.message_batch import MessageBatchInput, message_batch_step
from havachat.pipeline.warm import WarmInput, warm_step


@logger.inject_lambda_context(clear_state=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: AwsDeps | None = None) -> dict[str, Any]:
    if "warm_cache" in event:  # the WarmCache state, before the Map: one prompt-cache write per chunk
        deps = deps or container_deps()
        warm_input = parse(event=event["warm_cache"], model=WarmInput)
        warmed = warm_within_cap(
            warm_input.run_id,
            deps.runs,
            lambda: warm_step(warm_input, deps.store, deps.batch_generator, EmfBatchMetrics()),
        )
        logger.info("cache warmed", extra={"chunks": warmed.chunks_warmed, "failed": len(warmed.failed)})
        return warmed.model_dump(mode="json")
    if "message_batch" in event:  # Message Batches mode, before the Map: submit, poll or collect
        deps = deps or container_deps()
        state = message_batch_step(
            parse(event=event["message_batch"], model=MessageBatchInput),
            deps.store,
            deps.batch_generator,
            EmfBatchMetrics(),
            runs=deps.runs,
            max_wait_seconds=deps.settings.batch_max_wait_seconds,
        )
        logger.info("message batch", extra=state.model_dump(mode="json"))
        return state.model_dump(mode="json")
    batch_input = parse(event=event, model=BatchInput)
    logger.thread_safe_append_keys(run_id=batch_input.run_id, batch_id=batch_input.batch.batch_id)
    deps = deps or container_deps()
    output = generate_step(batch_input, deps.store, deps.batch_generator, EmfBatchMetrics(), runs=deps.runs)
    logger.info(
        "batch done",
        extra={"category": output.category.value, "items": output.item_count, "cost_usd": output.usage.cost_usd},
    )
    return output.model_dump(mode="json")

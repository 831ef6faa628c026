"""Message Batches mode (`HAVACHAT_LLM_MODE=batch`): a run's batches answered at half price, within 24 hours.

The state machine submits one Message Batch holding the first call of every batch still without output
(`submit_step`), waits and polls it in a Wait-state loop (`poll_step`: no Lambda sleeps), then collects
it (`collect_step`): each validated answer is post-processed and written as its batch's output, exactly
as `generate_step` writes it, priced at batch rates. Whatever produced no output (errored, expired or
canceled requests, answers cut off at max_tokens or failing validation) then goes through the Map as in
sync mode, where `generate_step` returns the written outputs at once and retries, splits or fails the rest.

A batch's first call is what the sync path sends first (`havachat.generation.first_request`: the whole
chunk, the same cached prefix), and its answer is post-processed the same way (`result_of_first_answer`).
Batches of the coverage follow-up categories, which may need a second call, are left to the Map when
the follow-up is on. What the collection wasted (billed answers without output) is kept in the run's
message batch record, which Finalize adds to the run's cost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from havachat.cost_cap import check_spend
from havachat.errors import HavachatError, LlmError
from havachat.generation import (
    FOLLOWUP_CATEGORIES,
    BatchGenerator,
    LlmBatchGenerator,
    first_request,
    result_of_first_answer,
)
from havachat.ledger import CallUsage, UsageTotals
from havachat.llm_port import LlmRequest, MessageBatcher
from havachat.models import BatchSpec, LearningItemBatch, Level, VocabList
from havachat.pipeline.contracts import MESSAGE_BATCH, BatchInput, MessageBatchRecord, now_iso
from havachat.pipeline.generate import write_batch_output
from havachat.pipeline.keys import RunKeys
from havachat.pipeline.ports import BatchMetricsSink, Runs, Store

CANCEL_GRACE_SECONDS = 3600
"""How long a canceled Message Batch may take to end before the poll gives up (the API ends it within minutes)."""


class MessageBatchInput(BaseModel):
    """The payload of the SubmitMessageBatch, PollMessageBatch and CollectMessageBatch tasks
    (under `message_batch` in the GenerateBatch function's event)."""

    action: Literal["submit", "poll", "collect"]
    run_id: str
    language: str
    level: Level
    max_cost_usd: float | None = None


class MessageBatchState(BaseModel):
    """What the three tasks return to the state machine: small, no items."""

    run_id: str
    submitted: bool = False
    requests: int = 0
    status: str = Field(default="skipped", description="skipped, in_progress, canceling, ended, gave_up, collected")
    collected: int = 0
    note: str | None = None


class NoMessageBatches(HavachatError):
    """The configured generator cannot use the Message Batches API (offline, or Bedrock)."""


def message_batch_step(
    batch_input: MessageBatchInput,
    store: Store,
    make_generator: Callable[[], BatchGenerator],
    metrics_sink: BatchMetricsSink,
    *,
    runs: Runs,
    max_wait_seconds: int,
) -> MessageBatchState:
    """The step `batch_input.action` names."""
    if batch_input.action == "submit":
        return submit_step(batch_input, store, make_generator, runs=runs)
    if batch_input.action == "poll":
        return poll_step(batch_input, store, make_generator, max_wait_seconds=max_wait_seconds)
    return collect_step(batch_input, store, make_generator, metrics_sink, runs=runs)


def submit_step(
    batch_input: MessageBatchInput, store: Store, make_generator: Callable[[], BatchGenerator], *, runs: Runs
) -> MessageBatchState:
    """Submit the first call of every batch without output as one Message Batch (`custom_id` = batch id).

    Skipped (the Map then runs every batch as in sync mode) when nothing is pending, the generator cannot
    batch (offline, Bedrock), the run's spend has reached its cap, or the submission fails.
    """
    run_id = batch_input.run_id
    keys = RunKeys(run_id)
    try:
        generator, llm = _batching(make_generator())
        if batch_input.max_cost_usd:
            record = runs.get(run_id)
            check_spend((record.spent_usd or 0.0) if record else 0.0, batch_input.max_cost_usd)
        pending = [
            spec
            for spec in (BatchSpec.model_validate(b) for b in store.get_json(keys.manifest) or [])
            if store.get_json(keys.batch_output(spec.batch_id)) is None
            and not (generator.coverage_followup and spec.category in FOLLOWUP_CATEGORIES)
        ]
        if not pending:
            return MessageBatchState(run_id=run_id, note="no batch to submit")
        chunks: dict[int, VocabList] = {}
        requests: dict[str, LlmRequest] = {}
        for spec in pending:
            if spec.chunk_index not in chunks:
                chunks[spec.chunk_index] = VocabList.model_validate(store.get_json(keys.chunk(spec.chunk_index)))
            requests[spec.batch_id] = first_request(
                spec,
                chunks[spec.chunk_index].items,
                language=batch_input.language,
                level=batch_input.level,
                max_tokens=generator.max_tokens,
            )
        earlier = store.get_json(keys.message_batch)
        if earlier is not None and _uncollected(MessageBatchRecord.model_validate(earlier), list(requests)):
            # a retry of this task after its submission: the batch is processing already, not paid twice
            return MessageBatchState(run_id=run_id, submitted=True, requests=len(requests), status="in_progress")
        message_batch_id = llm.submit_batch(requests, LearningItemBatch)
    except HavachatError as exc:  # LlmError, CostCapReached, no batching generator: the Map runs them all
        return MessageBatchState(run_id=run_id, note=f"{type(exc).__name__}: {exc}"[:500])
    record = MessageBatchRecord(
        run_id=run_id, message_batch_id=message_batch_id, submitted_at=now_iso(), batch_ids=list(requests)
    )
    store.put_json(keys.message_batch, record.model_dump(mode="json"))
    return MessageBatchState(run_id=run_id, submitted=True, requests=len(requests), status="in_progress")


def poll_step(
    batch_input: MessageBatchInput,
    store: Store,
    make_generator: Callable[[], BatchGenerator],
    *,
    max_wait_seconds: int,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MessageBatchState:
    """The Message Batch's processing status.

    Still in progress after `max_wait_seconds`, it is canceled: its unprocessed requests end unbilled, the
    answers it has are collected once it ends, and the Map asks the rest in sync mode (nothing is paid
    twice). Still not ended `CANCEL_GRACE_SECONDS` later, the poll gives up (`gave_up`: the Map runs every
    batch), so the loop always ends.
    """
    record = _record(store, batch_input.run_id)
    batcher = _batching(make_generator())[1]
    status = batcher.batch_status(record.message_batch_id)
    waited = (now() - datetime.fromisoformat(record.submitted_at)).total_seconds()
    if status == "in_progress" and waited > max_wait_seconds:
        try:
            status = batcher.cancel_batch(record.message_batch_id)
        except LlmError:  # e.g. it ended in between (409): what it is now decides, and the next poll retries
            status = batcher.batch_status(record.message_batch_id)
    if status != "ended" and waited > max_wait_seconds + CANCEL_GRACE_SECONDS:
        status = "gave_up"
    return MessageBatchState(run_id=record.run_id, submitted=True, requests=len(record.batch_ids), status=status)


def collect_step(
    batch_input: MessageBatchInput,
    store: Store,
    make_generator: Callable[[], BatchGenerator],
    metrics_sink: BatchMetricsSink,
    *,
    runs: Runs,
) -> MessageBatchState:
    """Write the output of every batch the Message Batch answered validly, as `generate_step` writes it.

    Idempotent: a batch that already has an output is not written again. Answers that write nothing are
    recorded with their usage (billed unless errored, expired or canceled); the Map then retries them.
    """
    keys = RunKeys(batch_input.run_id)
    record = _record(store, batch_input.run_id)
    _, llm = _batching(make_generator())
    specs = {spec.batch_id: spec for spec in (BatchSpec.model_validate(b) for b in store.get_json(keys.manifest))}
    spend = runs if batch_input.max_cost_usd else None
    chunks: dict[int, VocabList] = {}
    collected: list[str] = []
    failed: list[str] = []
    wasted: list[CallUsage] = []
    for batch_id, answer in llm.batch_results(record.message_batch_id, LearningItemBatch):
        spec = specs.get(batch_id)
        if spec is None or store.get_json(keys.batch_output(batch_id)) is not None:
            continue
        if isinstance(answer, LlmError):
            wasted += [u for u in answer.usage if isinstance(u, CallUsage)]
            failed.append(f"{batch_id}: {type(answer).__name__}")
            continue
        if spec.chunk_index not in chunks:
            chunks[spec.chunk_index] = VocabList.model_validate(store.get_json(keys.chunk(spec.chunk_index)))
        one = BatchInput(
            run_id=batch_input.run_id,
            language=batch_input.language,
            level=batch_input.level,
            batch=spec,
            max_cost_usd=batch_input.max_cost_usd,
        )
        result = result_of_first_answer(
            spec,
            chunks[spec.chunk_index].items,
            answer.value,
            answer.attempts,
            language=one.language,
            level=one.level,
            run_id=one.run_id,
            model=llm.model,
        )
        write_batch_output(one, result, llm.model, store, metrics_sink, spend=spend)
        collected.append(batch_id)
    usage = UsageTotals.of_call(wasted)
    if spend is not None and usage.cost_usd:
        spend.add_spend(batch_input.run_id, usage.cost_usd)
    record = record.model_copy(
        update={"collected": collected, "failed": failed, "wasted_usage": usage, "collected_at": now_iso()}
    )
    store.put_json(keys.message_batch, record.model_dump(mode="json"))
    if failed:
        metrics_sink.record(category=MESSAGE_BATCH, model=llm.model, usage=usage, items=0, failed=True)
    return MessageBatchState(
        run_id=batch_input.run_id,
        submitted=True,
        requests=len(record.batch_ids),
        status="collected",
        collected=len(collected),
        note=f"{len(failed)} left to the Map" if failed else None,
    )


def _uncollected(record: MessageBatchRecord, batch_ids: list[str]) -> bool:
    return record.collected_at is None and record.batch_ids == batch_ids


def _batching(generator: BatchGenerator) -> tuple[LlmBatchGenerator, MessageBatcher]:
    if isinstance(generator, LlmBatchGenerator) and isinstance(generator.llm, MessageBatcher):
        return generator, generator.llm
    raise NoMessageBatches(f"the {generator.model} generator has no Message Batches API")


def _record(store: Store, run_id: str) -> MessageBatchRecord:
    return MessageBatchRecord.model_validate(store.get_json(RunKeys(run_id).message_batch))

"""Message Batches mode: the adapter against FakeClaude's batch endpoints, and the submit, poll and collect
steps over the in-memory ports, followed by the Map's sync path for what the Message Batch left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anthropic
import pytest

from havachat.cost_cap import estimated_cost_usd
from havachat.errors import LlmOutputTruncated, LlmRequestRejected, LlmUnavailable
from havachat.generation import LlmBatchGenerator, first_request
from havachat.ledger import BATCH_PRICE_FACTOR, CallUsage
from havachat.llm import InstructorClaude
from havachat.llm_port import StructuredAnswer
from havachat.models import LearningItemBatch, RunPlan, VocabList
from havachat.offline import OfflineGenerator
from havachat.pipeline.contracts import MESSAGE_BATCH, MessageBatchRecord, PlanOutput, PlanRequest
from havachat.pipeline.keys import RunKeys
from havachat.pipeline.message_batch import (
    CANCEL_GRACE_SECONDS,
    MessageBatchInput,
    MessageBatchState,
    collect_step,
    poll_step,
    submit_step,
)
from havachat.settings import LlmMode
from tests.fakes.fake_claude import FakeClaude
from tests.unit.pipeline_world import World, settings, upload_event, vocab_csv

DAY = 24 * 3600


def _input(planned: PlanOutput, action: str = "submit") -> MessageBatchInput:
    assert planned.language is not None and planned.level is not None
    return MessageBatchInput(
        action=action,  # type: ignore[arg-type]
        run_id=planned.run_id,
        language=planned.language,
        level=planned.level,
        max_cost_usd=planned.max_cost_usd,
    )


def _run_message_batch(world: World, planned: PlanOutput) -> MessageBatchState:
    """Submit, poll until ended, collect: what the state machine's loop does."""
    assert submit_step(_input(planned), world.store, world.generator, runs=world.runs).submitted
    while poll_step(_input(planned, "poll"), world.store, world.generator, max_wait_seconds=DAY).status != "ended":
        pass
    return collect_step(_input(planned, "collect"), world.store, world.generator, world.metrics, runs=world.runs)


def test_a_message_batch_request_is_exactly_the_sync_call_and_its_answer_is_parsed_by_instructor() -> None:
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))
    spec = world.manifest(planned)[0]
    world.generate(planned, spec)  # the sync path's call, as the fake received it
    [sync_body] = world.fake.requests
    chunk = VocabList.model_validate(world.store.get_json(RunKeys(planned.run_id).chunk(spec.chunk_index)))
    request = first_request(
        spec, chunk.items, language=planned.language, level=planned.level, max_tokens=world.settings.max_tokens
    )
    llm = world.llm()

    assert llm.batch_params(request, LearningItemBatch) == sync_body

    batch_id = llm.submit_batch({spec.batch_id: request}, LearningItemBatch)
    assert llm.batch_status(batch_id) == "ended"  # the fake ends a batch on its first poll by default
    [(custom_id, answer)] = list(llm.batch_results(batch_id, LearningItemBatch))

    assert custom_id == spec.batch_id and world.fake.batch_requests == [sync_body]
    assert isinstance(answer, StructuredAnswer) and isinstance(answer.value, LearningItemBatch)
    [usage] = answer.attempts
    [batch_usage] = world.fake.batch_usages
    assert usage.batch and (usage.input_tokens, usage.output_tokens) == (
        batch_usage["input_tokens"],
        batch_usage["output_tokens"],
    )
    assert usage.cost_usd == pytest.approx(usage.model_copy(update={"batch": False}).cost_usd * BATCH_PRICE_FACTOR)


def test_batch_usage_costs_half_the_list_price_for_every_kind_of_token() -> None:
    listed = CallUsage(
        model="claude-sonnet-4-6", input_tokens=1000, output_tokens=500, cache_write_tokens=300, cache_read_tokens=900
    )
    assert listed.model_copy(update={"batch": True}).cost_usd == pytest.approx(listed.cost_usd / 2)


def test_a_whole_run_through_a_message_batch_costs_half_and_the_map_makes_no_call() -> None:
    sync_world, batch_world = World(), World(fake=FakeClaude(batch_polls=3))
    sync_planned = sync_world.plan(sync_world.upload(vocab_csv(6)))
    sync_world.generate_all(sync_planned)
    sync_summary = sync_world.finalize(sync_planned.run_id)
    planned = batch_world.plan(batch_world.upload(vocab_csv(6)))

    collected = _run_message_batch(batch_world, planned)
    outputs = batch_world.generate_all(planned)  # the Map: every output is there already
    summary = batch_world.finalize(planned.run_id)

    assert collected.collected == planned.batch_count == 9 and collected.note is None
    assert batch_world.fake.requests == [] and len(batch_world.fake.batch_requests) == 9
    assert all(output.item_count > 0 for output in outputs)
    assert summary.status == sync_summary.status and summary.items_total == sync_summary.items_total
    assert summary.usage.input_tokens == sync_summary.usage.input_tokens
    assert summary.usage.cache_read_tokens == sync_summary.usage.cache_read_tokens
    assert summary.cost_usd == pytest.approx(sync_summary.cost_usd * BATCH_PRICE_FACTOR, rel=1e-4)
    assert MESSAGE_BATCH not in summary.usage_by_category


def test_errored_expired_and_cut_off_requests_go_through_the_sync_path_and_the_waste_is_paid() -> None:
    world = World()
    world.fake.script(batch_result="expired", match="Category: cultural\n")
    world.fake.script(batch_result="errored", match="Category: idiom\n")
    world.fake.script(in_batch=True, truncated=True, match="Category: pronunciation\n")
    planned = world.plan(world.upload(vocab_csv(6)))

    collected = _run_message_batch(world, planned)
    record = MessageBatchRecord.model_validate(world.store.get_json(RunKeys(planned.run_id).message_batch))
    world.generate_all(planned)
    summary = world.finalize(planned.run_id)

    assert collected.collected == 6 and collected.note == "3 left to the Map"
    assert sorted(f.split(": ")[1] for f in record.failed) == ["LlmOutputTruncated", "LlmUnavailable", "LlmUnavailable"]
    # only the three left over were asked again, one sync call each
    left = ("cultural", "idiom", "pronunciation")
    assert [len(world.fake.requests_matching(f"Category: {c}\n")) for c in left] == [1, 1, 1]
    [pronunciation] = world.fake.requests_matching("Category: pronunciation\n")
    assert len(world.fake.requests) == 3 and summary.status.value == "SUCCEEDED"
    # the cut-off answer was billed (at batch price); the errored and expired ones were not
    assert record.wasted_usage.calls == 1 and record.wasted_usage.output_tokens == pronunciation["max_tokens"]
    assert summary.usage_by_category[MESSAGE_BATCH] == record.wasted_usage


def test_a_request_left_to_the_map_that_fails_there_too_makes_the_run_partial() -> None:
    world = World()
    world.fake.script(batch_result="expired", match="Category: cultural\n")
    world.fake.script(status=400, match="Category: cultural\n")
    planned = world.plan(world.upload(vocab_csv(6)))
    _run_message_batch(world, planned)

    for spec in world.manifest(planned):
        try:
            world.generate(planned, spec)
        except LlmRequestRejected:
            assert spec.category.value == "cultural"
    summary = world.finalize(planned.run_id)

    assert summary.status.value == "PARTIAL" and [f.category.value for f in summary.failed_batches] == ["cultural"]


def test_the_adapter_reports_each_results_error_as_the_sync_path_would_name_it() -> None:
    world = World()
    world.fake.script(batch_result="expired", match="Category: cultural\n")
    world.fake.script(in_batch=True, status=400, match="Category: idiom\n")
    world.fake.script(in_batch=True, truncated=True, match="Category: pronunciation\n")
    planned = world.plan(world.upload(vocab_csv(6)))
    submit_step(_input(planned), world.store, world.generator, runs=world.runs)
    record = MessageBatchRecord.model_validate(world.store.get_json(RunKeys(planned.run_id).message_batch))
    world.llm().batch_status(record.message_batch_id)

    results = dict(world.llm().batch_results(record.message_batch_id, LearningItemBatch))

    by_category = {batch_id.rsplit("-", 1)[0]: answer for batch_id, answer in results.items()}
    assert isinstance(by_category["cultural"], LlmUnavailable) and by_category["cultural"].usage == []
    assert isinstance(by_category["idiom"], LlmRequestRejected)
    assert isinstance(by_category["pronunciation"], LlmOutputTruncated) and by_category["pronunciation"].usage


def test_a_batch_still_running_after_the_wait_is_canceled_and_the_map_asks_what_it_did_not_answer() -> None:
    world = World(fake=FakeClaude(batch_polls=3))
    planned = world.plan(world.upload(vocab_csv(6)))
    submit_step(_input(planned), world.store, world.generator, runs=world.runs)
    poll = _input(planned, "poll")

    first = poll_step(poll, world.store, world.generator, max_wait_seconds=DAY)
    late = poll_step(
        poll,
        world.store,
        world.generator,
        max_wait_seconds=DAY,
        now=lambda: datetime.now(UTC) + timedelta(days=1, minutes=10),
    )
    ended = poll_step(poll, world.store, world.generator, max_wait_seconds=DAY)
    collected = collect_step(_input(planned, "collect"), world.store, world.generator, world.metrics, runs=world.runs)
    record = MessageBatchRecord.model_validate(world.store.get_json(RunKeys(planned.run_id).message_batch))
    world.generate_all(planned)
    summary = world.finalize(planned.run_id)

    assert (first.status, late.status, ended.status) == ("in_progress", "canceling", "ended")
    # the canceled requests were not billed, and each batch was asked once, in sync mode, by the Map
    assert collected.collected == 0 and collected.note == "9 left to the Map" and record.wasted_usage.calls == 0
    assert len(world.fake.requests) == 9 and summary.status.value == "SUCCEEDED"
    assert MESSAGE_BATCH not in summary.usage_by_category


def test_a_canceled_batch_that_does_not_end_is_given_up_so_the_loop_ends() -> None:
    world = World(fake=FakeClaude(batch_polls=3))
    planned = world.plan(world.upload(vocab_csv(6)))
    submit_step(_input(planned), world.store, world.generator, runs=world.runs)
    much_later = datetime.now(UTC) + timedelta(days=1, seconds=CANCEL_GRACE_SECONDS + 60)

    state = poll_step(
        _input(planned, "poll"), world.store, world.generator, max_wait_seconds=DAY, now=lambda: much_later
    )

    record = MessageBatchRecord.model_validate(world.store.get_json(RunKeys(planned.run_id).message_batch))
    assert state.status == "gave_up"
    assert world.llm().batch_status(record.message_batch_id) == "ended", "canceled before giving up: nothing billed"


def test_a_retried_submission_does_not_submit_the_same_batches_twice_but_a_resume_does() -> None:
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))

    first = submit_step(_input(planned), world.store, world.generator, runs=world.runs)
    retried = submit_step(_input(planned), world.store, world.generator, runs=world.runs)

    assert first == retried and len(world.fake.batch_requests) == 9
    world.fake.script(batch_result="expired", match="Category: cultural\n")
    collect_step(_input(planned, "collect"), world.store, world.generator, world.metrics, runs=world.runs)
    resumed = submit_step(_input(planned), world.store, world.generator, runs=world.runs)  # a resume's
    assert resumed.requests == 1 and len(world.fake.batch_requests) == 10


@pytest.mark.parametrize("case", ["offline", "bedrock", "nothing_pending", "cost_cap_reached"])
def test_submission_is_skipped_and_the_map_runs_the_batches_as_in_sync_mode(case: str) -> None:
    world = World(settings=settings(max_run_cost_usd=5.0) if case == "cost_cap_reached" else settings())
    planned = world.plan(world.upload(vocab_csv(6)))
    make = world.generator
    if case == "offline":
        make = OfflineGenerator  # type: ignore[assignment]
    elif case == "bedrock":
        bedrock = anthropic.AnthropicBedrock(aws_region="us-east-1", aws_access_key="x", aws_secret_key="y")

        def make() -> LlmBatchGenerator:
            return LlmBatchGenerator(InstructorClaude(bedrock, world.settings.model), world.settings.max_tokens)

    elif case == "nothing_pending":
        world.generate_all(planned)
    else:
        world.runs.add_spend(planned.run_id, 5.0)

    state = submit_step(_input(planned), world.store, make, runs=world.runs)

    assert not state.submitted and state.status == "skipped" and world.fake.batch_requests == []
    assert world.store.get_json(RunKeys(planned.run_id).message_batch) is None
    note = {"offline": "NoMessageBatches", "bedrock": "LlmRequestRejected", "cost_cap_reached": "CostCapReached"}
    assert (state.note or "").startswith(note.get(case, "no batch to submit"))


def test_the_coverage_follow_up_categories_are_left_to_the_map_when_the_follow_up_is_on() -> None:
    world = World(settings=settings(coverage_followup=True))
    planned = world.plan(world.upload(vocab_csv(6)))

    state = submit_step(_input(planned), world.store, world.generator, runs=world.runs)

    assert state.requests == planned.batch_count - 3  # pronunciation, writing system, literacy


def test_the_fake_refuses_a_batch_as_the_api_does() -> None:
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))
    spec = world.manifest(planned)[0]
    chunk = VocabList.model_validate(world.store.get_json(RunKeys(planned.run_id).chunk(spec.chunk_index)))
    request = first_request(spec, chunk.items, language=planned.language, level=planned.level, max_tokens=1024)

    for custom_ids in (["has space"], ["x" * 65], []):
        with pytest.raises(LlmRequestRejected):
            world.llm().submit_batch(dict.fromkeys(custom_ids, request), LearningItemBatch)
    with pytest.raises(LlmRequestRejected):  # unknown batch id: 404
        world.llm().batch_status("msgbatch_unknown")


def test_plan_says_which_mode_the_state_machine_runs_and_estimates_the_cap_at_batch_prices() -> None:
    world = World(settings=settings(llm_mode=LlmMode.BATCH, batch_poll_seconds=7, max_run_cost_usd=100.0))
    source = world.upload(vocab_csv(6))

    planned = world.plan_request(PlanRequest.model_validate(upload_event(source)), owner="exec-1")

    assert (planned.llm_mode, planned.batch_poll_seconds) == ("batch", 7)
    plan = RunPlan.model_validate(world.store.get_json(RunKeys(planned.run_id).plan))
    record = world.runs.get(planned.run_id)
    assert record is not None and record.estimated_cost_usd == pytest.approx(estimated_cost_usd(plan, batch=True))
    assert estimated_cost_usd(plan, batch=True) < estimated_cost_usd(plan)

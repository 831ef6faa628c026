"""Finalize as a plain step: merge, de-duplicate, write the results, complete the run, publish the event."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from havachat.errors import InvalidVocabFile, LlmRequestRejected
from havachat.models import Category
from havachat.pipeline.contracts import (
    EVENT_FAILED_BATCHES_SHOWN,
    GENERATED,
    GENERATION_FAILED,
    BatchRecord,
    FailedBatch,
    FinalizeOutput,
    FinalizeRequest,
    ItemsGeneratedDetail,
    PlanOutput,
    RunStatus,
    RunSummary,
    S3Object,
)
from havachat.pipeline.finalize import finalize_request, finish_run, run_outcome
from havachat.pipeline.keys import RunKeys, run_id_for
from tests.fakes.memory import MemoryIdempotency, MemoryReport
from tests.unit.pipeline_world import UPLOAD_BUCKET, World, upload_event, vocab_csv


def _generated(world: World) -> PlanOutput:
    planned = world.plan(world.upload(vocab_csv(6)))
    world.generate_all(planned)
    return planned


def test_finalize_merges_the_batches_writes_the_results_completes_the_run_and_publishes() -> None:
    # Given every batch of a run generated
    world = World()
    planned = _generated(world)
    records = [world.batch_record(planned.run_id, spec.batch_id) for spec in world.manifest(planned)]
    batches = [record for record in records if record is not None]
    generated = sum(len(b.items) for b in batches)

    # When Finalize runs
    summary = world.finalize(planned.run_id)

    # Then the run SUCCEEDED with every batch, and the item count is what survived de-duplication and merging
    keys = RunKeys(planned.run_id)
    assert (summary.status, summary.batch_count, summary.succeeded_batches) == (
        RunStatus.SUCCEEDED,
        planned.batch_count,
        planned.batch_count,
    )
    assert summary.items_total == generated - summary.duplicates_removed - summary.merged_similar

    # and items.jsonl and the items table hold those items, once each, counted by category
    written = world.result_items(planned.run_id)
    assert len(written) == summary.items_total == len({item.id for item in written})
    assert {i.id: i for i in world.items.list_items(planned.run_id)} == {i.id: i for i in written}
    assert summary.counts_by_category == dict(Counter(item.category.value for item in written))

    # and the usage is the sum of the batches', the same as the API reported
    assert summary.usage.input_tokens == sum(b.output.usage.input_tokens for b in batches)
    assert summary.usage.input_tokens == sum(u["input_tokens"] for u in world.fake.usages)
    assert summary.usage.calls == len(world.fake.requests) == planned.batch_count
    assert summary.usage_by_category == {b.output.category.value: b.output.usage for b in batches}

    # and run.json is the summary, and the run record is complete
    assert RunSummary.model_validate(world.store.get_json(keys.summary)) == summary
    record = world.runs.get(planned.run_id)
    assert record is not None
    assert (record.status, record.items_total, record.cost_usd, record.summary_key) == (
        RunStatus.SUCCEEDED,
        summary.items_total,
        summary.cost_usd,
        keys.summary,
    )

    # and one LearningItemsGenerated event says what Stage 2 needs to find the items
    assert [kind for kind, _ in world.events.published] == [GENERATED]
    [detail] = world.events.of_type(GENERATED)
    parsed = ItemsGeneratedDetail.model_validate(detail)
    assert (parsed.run_id, parsed.status, parsed.items_total) == (planned.run_id, RunStatus.SUCCEEDED, len(written))
    assert (parsed.output.bucket, parsed.output.items_key) == (world.store.bucket, keys.items)
    assert detail["counts_by_category"] == summary.counts_by_category
    assert detail["token_usage"]["input"] == summary.usage.input_tokens
    assert detail["failed_batch_count"] == 0


def test_an_item_in_two_batch_outputs_is_kept_once() -> None:
    # Given the first batch's first item also in the second batch's output
    world = World()
    planned = _generated(world)
    first_spec, second_spec = world.manifest(planned)[:2]
    first = world.batch_record(planned.run_id, first_spec.batch_id)
    second = world.batch_record(planned.run_id, second_spec.batch_id)
    assert first is not None and second is not None
    repeated = first.items[0]
    doubled = BatchRecord(output=second.output, items=[*second.items, repeated])
    world.store.put_json(RunKeys(planned.run_id).batch_output(second_spec.batch_id), doubled.model_dump(mode="json"))

    # When Finalize runs
    summary = world.finalize(planned.run_id)

    # Then the duplicate is counted and written once
    written = world.result_items(planned.run_id)
    assert summary.duplicates_removed == 1
    assert [item.id for item in written].count(repeated.id) == 1


def test_a_missing_batch_output_gives_partial_with_the_stored_error_named() -> None:
    # Given Claude rejected the cultural batch and the pattern batch never ran (a timeout leaves nothing)
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))
    by_category = {spec.category: spec for spec in world.manifest(planned)}
    world.fake.script(status=400)
    with pytest.raises(LlmRequestRejected) as rejected:
        world.generate(planned, by_category[Category.CULTURAL])
    world.generate_all(planned, skip=[Category.CULTURAL, Category.PATTERN])

    # When Finalize runs
    summary = world.finalize(planned.run_id)

    # Then the run is PARTIAL, listing both failed batches with what is known of them
    assert summary.status is RunStatus.PARTIAL
    assert summary.succeeded_batches == planned.batch_count - 2
    failed = {batch.batch_id: batch for batch in summary.failed_batches}
    cultural, pattern = by_category[Category.CULTURAL].batch_id, by_category[Category.PATTERN].batch_id
    assert sorted(failed) == sorted([cultural, pattern])
    assert (failed[cultural].error_type, failed[cultural].message) == ("LlmRequestRejected", str(rejected.value))
    assert failed[pattern].error_type == "NoOutput"
    assert not {Category.CULTURAL.value, Category.PATTERN.value} & set(summary.counts_by_category)

    # and the record and the event (still LearningItemsGenerated: Stage 2 uses a partial run) say so
    record = world.runs.get(planned.run_id)
    assert record is not None and record.status is RunStatus.PARTIAL
    [detail] = world.events.of_type(GENERATED)
    assert (detail["status"], detail["failed_batch_count"]) == ("PARTIAL", 2)
    assert {b["batch_id"] for b in detail["failed_batches"]} == {cultural, pattern}


def test_a_run_with_no_batch_output_at_all_fails() -> None:
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))

    summary = world.finalize(planned.run_id)

    assert (summary.status, summary.succeeded_batches, summary.items_total) == (RunStatus.FAILED, 0, 0)
    assert len(summary.failed_batches) == planned.batch_count
    assert [kind for kind, _ in world.events.published] == [GENERATION_FAILED]


def test_the_failure_path_records_the_run_failed_and_publishes_the_failure_event() -> None:
    # Given a planned run whose Map failed
    world = World()
    planned = _generated(world)
    failure = {"Error": "States.Timeout", "Cause": "the Map state timed out"}

    # When Finalize runs on the failure path
    summary = world.finalize(planned.run_id, failure=failure)

    # Then the run is FAILED with that error, no items are written, and the failure event is published
    assert (summary.status, summary.error, summary.items_total) == (RunStatus.FAILED, failure, 0)
    record = world.runs.get(planned.run_id)
    assert record is not None and (record.status, record.error) == (RunStatus.FAILED, failure)
    assert world.items.list_items(planned.run_id) == []
    assert world.store.get_json(RunKeys(planned.run_id).items) is None
    assert [kind for kind, _ in world.events.published] == [GENERATION_FAILED]
    [detail] = world.events.of_type(GENERATION_FAILED)
    assert (detail["run_id"], detail["status"], detail["error"]) == (planned.run_id, "FAILED", failure)


def test_the_failure_of_a_rejected_file_carries_its_problems() -> None:
    world = World()
    source = world.upload(b"definition\nhello\n")
    run_id = run_id_for(source.bucket, source.key, source.version_id)
    with pytest.raises(InvalidVocabFile) as raised:
        world.plan(source)

    summary = world.finalize(run_id, failure={"Error": "InvalidVocabFile", "Cause": str(raised.value)})

    assert summary.problems == [str(p) for p in raised.value.problems]
    [detail] = world.events.of_type(GENERATION_FAILED)
    assert detail["problems"] == summary.problems


def test_a_failure_before_plan_recorded_the_run_creates_a_failed_record() -> None:
    world = World()
    source = S3Object(bucket=UPLOAD_BUCKET, key="uploads/zh/HSK1/list.csv", version_id="v9")
    run_id = run_id_for(source.bucket, source.key, source.version_id)

    summary = world.finalize(run_id, failure={"Error": "Lambda.Unknown", "Cause": "out of memory"}, source=source)

    record = world.runs.get(run_id)
    assert record is not None and (record.status, record.input) == (RunStatus.FAILED, source)
    assert summary.status is RunStatus.FAILED and summary.input == source
    with pytest.raises(ValueError, match="no input object"):
        world.finalize("never-seen")


def test_finalize_twice_gives_the_same_items() -> None:
    # Given a finalized run
    world = World()
    planned = _generated(world)
    first = world.finalize(planned.run_id)
    keys = RunKeys(planned.run_id)
    items_bytes = world.store.raw(keys.items)
    rows = world.items.list_items(planned.run_id)

    # When Finalize runs again (a Step Functions retry)
    second = world.finalize(planned.run_id)

    # Then the same items are written under the same keys, and the summary differs only in its time
    assert world.store.raw(keys.items) == items_bytes
    assert world.items.list_items(planned.run_id) == rows
    assert second.model_dump(exclude={"finished_at"}) == first.model_dump(exclude={"finished_at"})
    assert second.merged_with_earlier_runs == 0  # its own catalog entries are not "earlier runs"
    assert [d["items_total"] for d in world.events.of_type(GENERATED)] == [first.items_total] * 2


# -- finalize_request: what the Finalize handler calls ----------------------------------------------------


class Finalizer:
    """`finalize_request` wired as the handler wires it: `finish_run` once per run, execution and path."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.report = MemoryReport()
        self.idempotency = MemoryIdempotency()

        def key(kwargs: dict[str, Any]) -> list[Any]:
            request: FinalizeRequest = kwargs["request"]
            return [request.run_id, request.execution_id, request.failure is not None]

        self.finish_once = self.idempotency.once(finish_run, FinalizeOutput, key=key)

    def __call__(self, **request: Any) -> FinalizeOutput:
        world = self.world
        return finalize_request(
            FinalizeRequest.model_validate(request),
            store=world.store,
            runs=world.runs,
            items=world.items,
            events=world.events,
            report=self.report,
            finish_once=self.finish_once,
        )


def test_a_failure_from_an_execution_that_does_not_own_the_run_is_not_recorded() -> None:
    # Given exec-1's run, generated
    world = World()
    source = world.upload(vocab_csv(6))
    planned = world.plan(source, owner="exec-1")
    world.generate_all(planned)
    record = world.runs.get(planned.run_id)
    finalize = Finalizer(world)

    # When the failure path of exec-2, a duplicate execution for the same upload, runs
    failure = {"Error": "States.TaskFailed", "Cause": "duplicate"}
    output = finalize(event=upload_event(source), failure=failure, execution_id="exec-2")

    # Then the run is untouched: no record change, no results, no event
    assert (output.run_id, output.recorded, output.status) == (planned.run_id, False, RunStatus.RUNNING)
    assert world.runs.get(planned.run_id) == record
    assert world.store.get_json(RunKeys(planned.run_id).summary) is None
    assert world.events.published == []
    assert finalize.report.calls == [("failure_not_recorded", record)]


def test_a_failure_of_the_owning_execution_is_recorded_once() -> None:
    world = World()
    source = world.upload(vocab_csv(6))
    planned = world.plan(source, owner="exec-1")
    finalize = Finalizer(world)
    failure = {"Error": "States.Timeout", "Cause": "the Map timed out"}

    first = finalize(event=upload_event(source), failure=failure, execution_id="exec-1")
    retried = finalize(event=upload_event(source), failure=failure, execution_id="exec-1")

    assert (first.run_id, first.status, first.recorded) == (planned.run_id, RunStatus.FAILED, True)
    assert retried == first
    assert [kind for kind, _ in world.events.published] == [GENERATION_FAILED]  # the retry published nothing
    assert [name for name, _ in finalize.report.calls] == ["finished"]


def test_finalize_runs_once_per_execution_and_every_time_without_one() -> None:
    world = World()
    planned = _generated(world)
    finalize = Finalizer(world)

    done = finalize(run_id=planned.run_id, execution_id="exec-1")
    finalize(run_id=planned.run_id, execution_id="exec-1")  # a Step Functions retry after success
    finalize(run_id=planned.run_id)  # sam local invoke: no execution id
    finalize(run_id=planned.run_id)

    summary = RunSummary.model_validate(world.store.get_json(RunKeys(planned.run_id).summary))
    assert done == FinalizeOutput.of(summary)
    assert (done.status, done.items_total, done.failed_batches) == (RunStatus.SUCCEEDED, summary.items_total, 0)
    assert [kind for kind, _ in world.events.published] == [GENERATED] * 3
    assert finalize.idempotency.ran == 1


def test_a_run_that_keeps_no_item_is_failed_with_its_cause() -> None:
    failed = [
        FailedBatch(batch_id="idiom-0000", category=Category.IDIOM, error_type="MissingCredentials", message="no key"),
        FailedBatch(batch_id="pattern-0000", category=Category.PATTERN, error_type="LlmThrottled", message="429"),
        FailedBatch(batch_id="cultural-0000", category=Category.CULTURAL, error_type="MissingCredentials", message="x"),
    ]

    assert run_outcome([], succeeded=9, items_kept=40) == (RunStatus.SUCCEEDED, None)
    assert run_outcome(failed[:1], succeeded=8, items_kept=40) == (RunStatus.PARTIAL, None)
    assert run_outcome([], succeeded=2, items_kept=0) == (
        RunStatus.FAILED,
        {"Error": "NoItems", "Cause": "the batches finished but kept no item"},
    )
    status, error = run_outcome(failed, succeeded=0, items_kept=0)
    assert status is RunStatus.FAILED and error is not None
    assert error == {
        "Error": "MissingCredentials",
        "Cause": "every batch failed (2 of 3 with MissingCredentials): no key",
    }


def test_intake_warnings_are_all_in_run_json_and_the_first_fifty_in_the_event() -> None:
    # Given a run whose upload repeats its first word on 60 rows
    world = World()
    data = vocab_csv(6) + "爱,ài,to love,v\n".encode() * 60
    planned = world.plan(world.upload(data))
    world.generate_all(planned)

    # When Finalize runs
    summary = world.finalize(planned.run_id)

    # Then run.json lists every warning, with its row
    assert summary.status is RunStatus.SUCCEEDED
    stored = RunSummary.model_validate(world.store.get_json(RunKeys(planned.run_id).summary))
    assert [w.row for w in stored.warnings] == list(range(8, 68))
    assert stored.warnings[0].problem == "'爱' repeats row 2 and was merged into it"
    # and the event (checked against its schema) counts them and carries the first 50
    (detail,) = world.events.of_type(GENERATED)
    assert detail["warning_count"] == 60
    assert detail["warnings"] == [w.model_dump(mode="json") for w in stored.warnings[:EVENT_FAILED_BATCHES_SHOWN]]

"""The run's cost cap over the in-memory ports: Plan refuses an estimate over it, batches stop once it is spent."""

from __future__ import annotations

from typing import Any

import pytest

from havachat.cost_cap import CostCapExceeded, CostCapReached, estimated_cost_usd
from havachat.ledger import UsageTotals
from havachat.models import BatchSpec, RunPlan
from havachat.pipeline.contracts import (
    GENERATION_FAILED,
    BatchError,
    BatchInput,
    BatchOutput,
    PlanOutput,
    PlanRequest,
    RunStatus,
    WarmOutput,
)
from havachat.pipeline.generate import generate_step, warm_within_cap
from havachat.pipeline.keys import RunKeys
from tests.fakes.memory import MemoryRuns
from tests.unit.pipeline_world import World, settings, vocab_csv


class CountingRuns(MemoryRuns):
    """`MemoryRuns` counting the reads and adds GenerateBatch makes (each a DynamoDB call on AWS)."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = self.adds = 0

    def get(self, run_id: str) -> Any:
        self.gets += 1
        return super().get(run_id)

    def add_spend(self, run_id: str, cost_usd: float) -> float:
        self.adds += 1
        return super().add_spend(run_id, cost_usd)


def _generate(world: World, planned: PlanOutput, spec: BatchSpec) -> BatchOutput:
    """GenerateBatch as the handler calls it, with the run's cap from Plan (the Map's item selector)."""
    assert planned.language is not None and planned.level is not None
    batch_input = BatchInput(
        run_id=planned.run_id,
        language=planned.language,
        level=planned.level,
        batch=spec,
        max_cost_usd=planned.max_cost_usd,
    )
    return generate_step(batch_input, world.store, world.generator, world.metrics, runs=world.runs)


def _generate_all(world: World, planned: PlanOutput) -> tuple[list[BatchOutput], list[str]]:
    """Every batch of the manifest in order: the outputs, and the batch ids stopped by the cap."""
    outputs, stopped = [], []
    for spec in world.manifest(planned):
        try:
            outputs.append(_generate(world, planned, spec))
        except CostCapReached:
            stopped.append(spec.batch_id)
    return outputs, stopped


def _estimate(world: World, planned: PlanOutput) -> float:
    return estimated_cost_usd(RunPlan.model_validate(world.store.get_json(RunKeys(planned.run_id).plan)))


def test_plan_refuses_a_run_whose_estimate_is_over_the_cap() -> None:
    # Given a cap of one cent
    world = World(settings=settings(max_run_cost_usd=0.01))
    source = world.upload(vocab_csv(6))

    # When the upload is planned, it is refused by name, the estimate and the cap in the message
    with pytest.raises(
        CostCapExceeded, match=r"estimated cost of \$0\.\d\d .* over its cost cap of \$0\.01"
    ) as refused:
        world.plan(source)

    # Then the run is recorded FAILED with the reason, its plan kept for a resume, and nothing was called
    [run_id] = world.runs.run_ids()
    record = world.runs.get(run_id)
    assert record is not None and record.status is RunStatus.FAILED
    assert record.problems == [str(refused.value)]
    assert record.max_cost_usd == 0.01 and record.estimated_cost_usd is not None and record.estimated_cost_usd > 0.01
    assert world.store.get_json(RunKeys(run_id).manifest) and world.fake.requests == []

    # And the failure path (the state machine's Catch) names the reason in run.json and the failure event
    failure = {"Error": "CostCapExceeded", "Cause": str(refused.value)}
    summary = world.finalize(run_id, failure=failure)
    assert summary.status is RunStatus.FAILED and summary.problems == [str(refused.value)]
    [event] = world.events.of_type(GENERATION_FAILED)
    assert event["error"]["Error"] == "CostCapExceeded" and "cost cap" in event["problems"][0]

    # When it is resumed with a cap above the estimate, it runs
    request = PlanRequest.model_validate({"resume_run_id": run_id, "max_cost_usd": 5})
    resumed = world.plan_request(request, owner="exec-2")
    assert not resumed.duplicate and _generate_all(world, resumed)[1] == []
    assert world.finalize(run_id).status is RunStatus.SUCCEEDED


def test_without_a_cap_batches_neither_read_nor_add_to_the_spend() -> None:
    # Given no cap (the default) and a runs table that counts its calls
    world = World(runs=CountingRuns())
    planned = world.plan(world.upload(vocab_csv(6)))
    reads_by_plan = world.runs.gets  # type: ignore[attr-defined]

    # When every batch runs
    outputs, stopped = _generate_all(world, planned)

    # Then no batch touched the runs table and nothing was stopped
    assert planned.max_cost_usd is None and stopped == [] and len(outputs) == 9
    assert world.runs.gets == reads_by_plan and world.runs.adds == 0  # type: ignore[attr-defined]
    record = world.runs.get(planned.run_id)
    assert record is not None and record.spent_usd is None and record.estimated_cost_usd is None


def test_a_run_stops_calling_once_its_spend_reaches_the_cap_and_a_resume_with_a_higher_cap_finishes_it() -> None:
    # Given a cap above the estimate, $0.18 of it spent already (earlier attempts), and a first answer cut off
    world = World(settings=settings(max_run_cost_usd=0.2, max_tokens=16_000))
    world.fake.script(truncated=True)
    planned = world.plan(world.upload(vocab_csv(20)))
    assert planned.max_cost_usd == 0.2 and _estimate(world, planned) < 0.2
    world.runs.add_spend(planned.run_id, 0.18)

    # When the batches run one after the other
    outputs, stopped = _generate_all(world, planned)

    # Then the first batch (split after the cut-offs) spent past the cap and every later one made no call
    assert len(outputs) == 1 and outputs[0].splits == 1 and len(stopped) == 8
    calls_before_stop = len(world.fake.requests)
    record = world.runs.get(planned.run_id)
    assert record is not None and record.spent_usd == pytest.approx(0.18 + outputs[0].usage.cost_usd)
    assert record.spent_usd >= 0.2
    error = BatchError.model_validate(world.store.get_json(RunKeys(planned.run_id).batch_error(stopped[0])))
    assert error.error_type == "CostCapReached" and "cost cap of $0.20 was reached" in error.message

    # And the run ends PARTIAL, its failed batches naming the reason
    summary = world.finalize(planned.run_id)
    assert summary.status is RunStatus.PARTIAL
    assert {b.error_type for b in summary.failed_batches} == {"CostCapReached"}

    # When it is resumed with a higher cap (the resume input's max_cost_usd)
    request = PlanRequest.model_validate({"resume_run_id": planned.run_id, "max_cost_usd": 5})
    resumed = world.plan_request(request, owner="exec-2")
    resumed_outputs, stopped_again = _generate_all(world, resumed)

    # Then only the stopped batches ran, the spend counts every call, and the run succeeds
    assert resumed.max_cost_usd == 5 and stopped_again == []
    assert len(world.fake.requests) == calls_before_stop + 8
    record = world.runs.get(planned.run_id)
    assert record is not None and record.max_cost_usd == 5
    assert record.spent_usd == pytest.approx(0.18 + sum(o.usage.cost_usd for o in resumed_outputs))
    assert world.finalize(planned.run_id).status is RunStatus.SUCCEEDED


def test_a_resume_takes_the_configured_cap_when_its_input_names_none() -> None:
    # Given a run stopped by a cap, and the configuration raised since
    world = World(settings=settings(max_run_cost_usd=0.2, max_tokens=16_000))
    world.fake.script(truncated=True)
    planned = world.plan(world.upload(vocab_csv(20)))
    world.runs.add_spend(planned.run_id, 0.18)
    _generate_all(world, planned)
    world.finalize(planned.run_id)
    world.settings = settings(max_run_cost_usd=0.0)

    # When it is resumed without a cap in its input
    resumed = world.plan_request(PlanRequest.model_validate({"resume_run_id": planned.run_id}), owner="exec-2")

    # Then the batches run with the configured cap (none): no check, the record says so
    assert resumed.max_cost_usd is None
    record = world.runs.get(planned.run_id)
    assert record is not None and record.max_cost_usd == 0
    assert _generate_all(world, resumed)[1] == []


def test_the_cache_warm_up_counts_against_the_cap_and_stops_at_it() -> None:
    # Given a capped run, and a warm-up that reports what it spent
    world = World(settings=settings(max_run_cost_usd=0.2), runs=CountingRuns())
    planned = world.plan(world.upload(vocab_csv(6)))
    warmed: list[str] = []

    def warm() -> WarmOutput:
        warmed.append(planned.run_id)
        return WarmOutput(run_id=planned.run_id, chunks_warmed=1, usage=UsageTotals(cache_write_tokens=40_000))

    # When it warms twice, the second time after the spend reached the cap
    first = warm_within_cap(planned.run_id, world.runs, warm)
    world.runs.add_spend(planned.run_id, 0.2)
    second = warm_within_cap(planned.run_id, world.runs, warm)

    # Then the first warm-up's cost was added to the spend and the second made no call
    assert first.chunks_warmed == 1 and len(warmed) == 1
    assert second.chunks_warmed == 0 and second.failed[0].startswith("CostCapReached")
    record = world.runs.get(planned.run_id)
    assert record is not None and record.spent_usd == pytest.approx(first.usage.cost_usd + 0.2)

    # And without a cap the warm-up runs as it is, adding nothing
    uncapped = World(runs=CountingRuns())
    run_id = uncapped.plan(uncapped.upload(vocab_csv(6))).run_id
    assert warm_within_cap(run_id, uncapped.runs, warm).chunks_warmed == 1
    assert uncapped.runs.adds == 0  # type: ignore[attr-defined]

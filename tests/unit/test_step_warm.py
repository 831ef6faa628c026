"""WarmCache as a plain step: one one-token call per chunk writes the prompt cache its batches read."""

from __future__ import annotations

from havachat.offline import OfflineGenerator
from havachat.pipeline.contracts import CACHE_WARM, PlanOutput, WarmOutput
from havachat.pipeline.warm import WarmInput, warm_step
from tests.unit.pipeline_world import World, settings, vocab_csv


def _warm(world: World, planned: PlanOutput) -> WarmOutput:
    assert planned.language is not None and planned.level is not None
    warm_input = WarmInput(run_id=planned.run_id, language=planned.language, level=planned.level)
    return warm_step(warm_input, world.store, world.generator, world.metrics)


def test_one_warm_up_per_chunk_then_every_batch_reads_the_prefix_and_the_run_pays_for_it() -> None:
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))

    warmed = _warm(world, planned)
    world.generate_all(planned)
    summary = world.finalize(planned.run_id)

    assert warmed.chunks_warmed == 1 and warmed.failed == [] and len(world.fake.warm_ups) == 1
    [warm_up] = world.fake.warm_up_usages
    assert warm_up["output_tokens"] == 1 and warm_up["cache_creation_input_tokens"] > 0
    assert len(world.fake.usages) == planned.batch_count == 9
    assert all(u["cache_creation_input_tokens"] == 0 for u in world.fake.usages)
    assert all(u["cache_read_input_tokens"] == warm_up["cache_creation_input_tokens"] for u in world.fake.usages)
    assert summary.usage_by_category[CACHE_WARM] == warmed.usage and warmed.usage.calls == 1
    # the run's cost includes the warm-up, the only call that wrote the cache
    assert summary.usage.calls == 10 and summary.usage.cache_write_tokens == warm_up["cache_creation_input_tokens"]


def test_a_run_whose_batches_all_have_outputs_warms_nothing() -> None:
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))
    world.generate_all(planned)
    before = len(world.fake.usages)

    warmed = _warm(world, planned)

    assert (warmed.chunks_warmed, world.fake.warm_ups, len(world.fake.usages)) == (0, [], before)


def test_a_chunk_with_one_batch_left_is_not_warmed() -> None:
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))
    for spec in world.manifest(planned)[:-1]:
        world.generate(planned, spec)

    assert _warm(world, planned).chunks_warmed == 0 and world.fake.warm_ups == []


def test_a_prefix_below_the_models_minimum_is_not_warmed() -> None:
    world = World(settings=settings(model="claude-haiku-4-5"))  # 4,096 tokens: six words fall far short
    planned = world.plan(world.upload(vocab_csv(6)))

    assert _warm(world, planned).chunks_warmed == 0 and world.fake.warm_ups == []


def test_the_offline_generator_warms_nothing() -> None:
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))
    assert planned.language is not None and planned.level is not None
    warm_input = WarmInput(run_id=planned.run_id, language=planned.language, level=planned.level)

    warmed = warm_step(warm_input, world.store, OfflineGenerator, world.metrics)

    assert warmed == WarmOutput(run_id=planned.run_id) and world.fake.warm_ups == []


def test_a_failed_warm_up_is_reported_and_the_batches_still_run() -> None:
    world = World()
    world.fake.script(status=529, warm_up=True)
    planned = world.plan(world.upload(vocab_csv(6)))

    warmed = _warm(world, planned)
    outputs = world.generate_all(planned)

    assert warmed.chunks_warmed == 0 and warmed.failed == ["chunk 0: LlmUnavailable"]
    assert len(outputs) == 9 and all(o.item_count > 0 for o in outputs)

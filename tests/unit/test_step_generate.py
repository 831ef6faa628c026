"""GenerateBatch as a plain step: one batch through the real SDK and instructor, Claude faked at HTTP."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from havachat.errors import LlmError, LlmInvalidOutput, LlmRequestRejected, LlmThrottled, MissingCredentials
from havachat.ledger import UsageTotals
from havachat.models import VocabList
from havachat.offline import OfflineGenerator
from havachat.pipeline.contracts import BatchError, PlanOutput
from havachat.pipeline.generate import UNCONFIGURED_MODEL, generate_step
from havachat.pipeline.keys import RunKeys
from tests.unit.pipeline_world import MODEL, World, settings, vocab_csv

_VOCABULARY = re.compile(r"<vocabulary>\n(.*?)\n</vocabulary>", re.S)


def _asked_words(body: dict[str, Any]) -> list[str]:
    """The words of the `<vocabulary>` block a request sent to Claude."""
    texts = []
    for message in body["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        texts += [block["text"] for block in blocks if block.get("type") == "text"]
    match = _VOCABULARY.search("\n".join(texts))
    assert match is not None, "no vocabulary block in the request"
    return [json.loads(line)["word"] for line in match.group(1).splitlines()]


def _usage_reported(world: World) -> UsageTotals:
    """The tokens the fake API reported for every answer it gave."""
    return UsageTotals(
        input_tokens=sum(u["input_tokens"] for u in world.fake.usages),
        output_tokens=sum(u["output_tokens"] for u in world.fake.usages),
        cache_write_tokens=sum(u["cache_creation_input_tokens"] for u in world.fake.usages),
        cache_read_tokens=sum(u["cache_read_input_tokens"] for u in world.fake.usages),
    )


def _tokens(usage: UsageTotals) -> tuple[int, int, int, int]:
    return usage.input_tokens, usage.output_tokens, usage.cache_write_tokens, usage.cache_read_tokens


def _planned(world: World, words: int = 6) -> PlanOutput:
    return world.plan(world.upload(vocab_csv(words)))


def test_a_batch_writes_its_record_and_returns_counts_and_usage() -> None:
    # Given a planned run
    world = World()
    planned = _planned(world)
    spec = world.manifest(planned)[0]

    # When one batch is generated
    output = world.generate(planned, spec)

    # Then its record holds the returned output and the items, all of this batch and of the chunk's words
    record = world.batch_record(planned.run_id, spec.batch_id)
    assert record is not None and record.output == output
    assert output.item_count == len(record.items) > 0
    chunk_words = set(VocabList.model_validate(world.store.get_json(RunKeys(planned.run_id).chunk(0))).words)
    for item in record.items:
        assert (item.category, item.provenance.run_id, item.provenance.batch_id) == (
            spec.category,
            planned.run_id,
            spec.batch_id,
        )
        assert set(item.source_words) <= chunk_words

    # and the usage is what the API reported for its one call, priced
    assert len(world.fake.requests) == 1
    assert (output.usage.calls, output.generator) == (1, "llm")
    assert _tokens(output.usage) == _tokens(_usage_reported(world))
    assert output.usage.cost_usd > 0

    # and one metric was recorded for the batch
    [metric] = world.metrics.records
    assert (metric.category, metric.model, metric.items, metric.failed) == (
        spec.category.value,
        MODEL,
        output.item_count,
        False,
    )
    assert metric.usage == output.usage


def test_a_batch_sends_claude_only_the_words_of_its_own_chunk() -> None:
    world = World(settings=settings(chunk_token_budget=3400))
    planned = _planned(world, words=12)
    spec = next(s for s in world.manifest(planned) if s.chunk_index == 1)
    vocab = world.vocab(planned.run_id)

    world.generate(planned, spec)

    assert _asked_words(world.fake.requests[0]) == [w.word for w in vocab[spec.word_start : spec.word_end]]


def test_a_second_call_returns_the_stored_output_without_asking_claude() -> None:
    world = World()
    planned = _planned(world)
    spec = world.manifest(planned)[0]
    first = world.generate(planned, spec)

    again = world.generate(planned, spec)

    assert again == first
    assert len(world.fake.requests) == 1
    assert len(world.metrics.records) == 1  # the usage is not counted twice


@pytest.mark.parametrize(
    ("script", "error", "attempts"),
    [
        ({"status": 400}, LlmRequestRejected, 0),
        ({"status": 429}, LlmThrottled, 0),
        ({"invalid": True, "times": 2}, LlmInvalidOutput, 2),  # instructor's re-ask fails too
    ],
    ids=["rejected", "throttled", "invalid-twice"],
)
def test_an_llm_error_writes_the_batch_error_with_its_wasted_usage_and_is_raised_by_name(
    script: dict[str, Any], error: type[LlmError], attempts: int
) -> None:
    # Given a planned run and Claude about to fail the call
    world = World(validation_max_retries=1)
    planned = _planned(world)
    spec = world.manifest(planned)[0]
    world.fake.script(**script)

    # When the batch is generated
    with pytest.raises(error) as raised:
        world.generate(planned, spec)

    # Then the error is stored under the batch's error key with the tokens the failed attempts cost
    keys = RunKeys(planned.run_id)
    stored = BatchError.model_validate(world.store.get_json(keys.batch_error(spec.batch_id)))
    assert (stored.batch_id, stored.category, stored.error_type) == (spec.batch_id, spec.category, error.__name__)
    assert stored.message == str(raised.value)[:2000]
    assert stored.usage.attempts == attempts == len(world.fake.usages)
    assert _tokens(stored.usage) == _tokens(_usage_reported(world))

    # and no output is written, so Finalize counts the batch as failed and a retry calls Claude again
    assert world.store.get_json(keys.batch_output(spec.batch_id)) is None

    # and a failed metric carries the same wasted usage
    [metric] = world.metrics.records
    assert (metric.category, metric.items, metric.failed) == (spec.category.value, 0, True)
    assert metric.usage == stored.usage


def test_a_generator_that_cannot_be_made_is_recorded_as_the_batch_error() -> None:
    # Given a planned run and no API key, so Claude cannot be configured
    world = World()
    planned = _planned(world)
    spec = world.manifest(planned)[0]

    def no_key() -> OfflineGenerator:
        raise MissingCredentials("No Anthropic API key: set the AnthropicApiKeySecret")

    # When the batch is generated, the error leaves by its name
    with pytest.raises(MissingCredentials):
        generate_step(world.batch_input(planned, spec), world.store, no_key, world.metrics)

    # Then it is stored as the batch's error, so the run's summary names the real cause
    stored = BatchError.model_validate(world.store.get_json(RunKeys(planned.run_id).batch_error(spec.batch_id)))
    assert (stored.error_type, stored.message) == (
        "MissingCredentials",
        "No Anthropic API key: set the AnthropicApiKeySecret",
    )
    [metric] = world.metrics.records
    assert (metric.model, metric.failed, world.fake.requests) == (UNCONFIGURED_MODEL, True, [])


def test_a_retry_after_an_error_generates_the_batch() -> None:
    world = World()
    planned = _planned(world)
    spec = world.manifest(planned)[0]
    world.fake.script(status=529)
    with pytest.raises(LlmError):
        world.generate(planned, spec)

    output = world.generate(planned, spec)

    assert output.item_count > 0
    assert [m.failed for m in world.metrics.records] == [True, False]
    assert world.batch_record(planned.run_id, spec.batch_id) is not None


def test_the_offline_generator_writes_items_without_usage_or_requests() -> None:
    world = World(settings=settings(provider="offline"))
    planned = _planned(world, words=40)
    generator = OfflineGenerator()

    outputs = [
        generate_step(world.batch_input(planned, spec), world.store, lambda: generator, world.metrics)
        for spec in world.manifest(planned)
    ]

    records = [world.batch_record(planned.run_id, output.batch_id) for output in outputs]
    assert sum(output.item_count for output in outputs) > 0
    for output, record in zip(outputs, records, strict=True):
        assert record is not None and output.item_count == len(record.items)
        assert (output.generator, output.usage) == (generator.model, UsageTotals())
        assert {item.provenance.model for item in record.items} <= {generator.model}
    assert world.fake.requests == []
    assert [(m.model, m.failed) for m in world.metrics.records] == [(generator.model, False)] * len(outputs)

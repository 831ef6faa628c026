"""How many calls to keep in flight under the organisation's Anthropic rate limits.

Anthropic limits requests, input tokens and output tokens per minute (token buckets refilled
continuously). A request reserves its `max_tokens` of the output budget while it runs and gets back
what it did not use, so the calls in flight can reserve at most one minute's output budget together,
however little they write. Keeping more calls in flight than the limits allow only buys 429s that
all wait and retry together; keeping fewer leaves budget unused. `calls_in_flight` picks the number
that uses the output budget, bounded by the reservations, the request rate and the input rate, with
each call's `max_tokens` right-sized to its item target (`havachat.prompts.max_tokens_for_items`) and,
when the output limit is known, chunks sized for at most a minute of output each
(`havachat.planning.planned_max_tokens`), so that the calls it takes to use the budget fit their
reservations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from havachat.models import BatchSpec, Category, RunPlan
from havachat.planning import LatencyModel, estimate_tokens
from havachat.prompts import max_tokens_for_items, min_cacheable_tokens, render_instructions
from havachat.settings import Settings


@dataclass(frozen=True)
class RateLimits:
    """Per-minute limits of the organisation for the model; 0 = unknown (no bound from it)."""

    requests_per_minute: int = 0
    input_tokens_per_minute: int = 0
    output_tokens_per_minute: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        return cls(
            requests_per_minute=settings.rate_limit_requests_per_minute,
            input_tokens_per_minute=settings.rate_limit_input_tokens_per_minute,
            output_tokens_per_minute=settings.rate_limit_output_tokens_per_minute,
        )

    @property
    def known(self) -> bool:
        return bool(self.requests_per_minute or self.input_tokens_per_minute or self.output_tokens_per_minute)


@dataclass(frozen=True)
class PlannedCall:
    """One call as the limits see it: expected output, the `max_tokens` it reserves, input that counts."""

    expected_output_tokens: int
    max_tokens: int
    counted_input_tokens: int


def calls_in_flight(calls: Sequence[PlannedCall], limits: RateLimits, *, latency: LatencyModel, upper: int) -> int:
    """The number of calls to keep in flight (1 to `upper`); `upper` when no limit is known.

    - Output budget: enough calls that their output rate (each writes its expected tokens over its
      latency) reaches the output tokens per minute.
    - Reservations: at most as many as one minute's output budget holds at the calls' mean `max_tokens`.
    - Requests and input: at most the calls per minute either limit allows, times a call's duration.
    """
    if not calls or not limits.known:
        return upper
    count = len(calls)
    seconds = sum(latency.call_seconds(c.expected_output_tokens) for c in calls) / count
    output = sum(c.expected_output_tokens for c in calls) / count
    reserved = sum(c.max_tokens for c in calls) / count
    counted_input = sum(c.counted_input_tokens for c in calls) / count
    bounds = [upper]
    if limits.output_tokens_per_minute:
        per_second = limits.output_tokens_per_minute / 60
        bounds.append(math.ceil(per_second * seconds / max(1.0, output)))
        bounds.append(math.floor(limits.output_tokens_per_minute / reserved))
    if limits.requests_per_minute:
        bounds.append(math.floor(limits.requests_per_minute / 60 * seconds))
    if limits.input_tokens_per_minute and counted_input:
        bounds.append(math.floor(limits.input_tokens_per_minute / 60 * seconds / counted_input))
    return max(1, min(bounds))


def planned_calls(plan: RunPlan) -> list[PlannedCall]:
    """The plan's batches as calls: right-sized `max_tokens`, and the input that counts against the limit.

    Cache reads do not count against input tokens per minute. As in `havachat.planning.batched_cost`,
    a chunk whose shared prefix is cacheable has it written once (counted once, by the warm-up) and
    read by every category call, which counts only its own instruction.
    """
    instruction = max(estimate_tokens(render_instructions(c, plan.language, plan.level, 9999, 9999)) for c in Category)
    by_chunk: dict[int, list[BatchSpec]] = {}
    for batch in plan.batches:
        by_chunk.setdefault(batch.chunk_index, []).append(batch)
    calls = []
    for batches in by_chunk.values():
        shared = min(b.estimated_input_tokens for b in batches) - instruction
        cached = len(batches) >= 2 and shared >= min_cacheable_tokens(plan.model)
        for batch in batches:
            counted = batch.estimated_input_tokens - shared + math.ceil(shared / len(batches))
            calls.append(
                PlannedCall(
                    expected_output_tokens=batch.estimated_output_tokens,
                    max_tokens=max_tokens_for_items(batch.target_items_max, plan.max_tokens),
                    counted_input_tokens=counted if cached else batch.estimated_input_tokens,
                )
            )
    return calls


def map_concurrency(plan: RunPlan, settings: Settings) -> int:
    """The Map's MaxConcurrency for `plan`: `settings.map_concurrency`, lowered to what the rate limits allow."""
    return calls_in_flight(
        planned_calls(plan),
        RateLimits.from_settings(settings),
        latency=LatencyModel(),
        upper=settings.map_concurrency,
    )

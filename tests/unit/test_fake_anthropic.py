"""The benchmark fake's rules: simulated time, latency model, caching on a clock, rate limits with 429s.

No sleeps and no timed assertions: the real clock is a variable the tests move, and `sleep` does nothing.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from bench.fake_anthropic import LatencyClaude, RateLimits, SimClock, TokenBucket
from havachat.planning import LatencyModel
from tests.fakes.fake_claude import estimate_tokens

SYSTEM = "You write language-learning items. " * 400  # well over the 1,024-token cacheable minimum
USER = '<vocabulary>\n{"word": "你好", "definition": "hello"}\n</vocabulary>\nWrite between 1 and 1 items.'


class Clock:
    """A real clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def request(system: str = SYSTEM, max_tokens: int = 1000) -> httpx2.Request:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": max_tokens,
        "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": USER}],
        "tools": [{"name": "LearningItemBatch", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "LearningItemBatch"},
    }
    return httpx2.Request("POST", "http://fake/v1/messages", content=json.dumps(body))


def fake_on(
    clock: Clock, *, scale: float = 0.01, limits: RateLimits | None = None
) -> tuple[LatencyClaude, list[float]]:
    slept: list[float] = []
    fake = LatencyClaude(
        latency=LatencyModel(first_token_seconds=1.0, output_tokens_per_second=50.0),
        clock=SimClock(scale, real_clock=clock),
        limits=limits,
        sleep=slept.append,
    )
    return fake, slept


def test_sim_clock_stretches_model_time_only() -> None:
    clock = Clock()
    sim = SimClock(0.01, real_clock=clock)
    clock.now = 0.5  # half a second of local work counts as it is
    assert sim.now() == pytest.approx(0.5)
    assert sim.hold(10.0) == pytest.approx(0.1)  # ten simulated seconds of model time take 0.1 s
    clock.now = 0.55
    assert sim.now() == pytest.approx(0.5 + 5.0)
    assert sim.hold(10.0) == pytest.approx(0.1)  # overlaps the first span: merged, not counted twice
    clock.now = 0.65
    assert sim.now() == pytest.approx(0.5 + 15.0)
    clock.now = 1.65  # a real second after the spans ended
    assert sim.now() == pytest.approx(0.5 + 15.0 + 1.0)


def test_a_call_is_held_for_first_token_plus_output_at_throughput() -> None:
    clock = Clock()
    fake, slept = fake_on(clock)

    response = fake.handle(request())

    assert response.status_code == 200
    output = response.json()["usage"]["output_tokens"]
    assert fake.calls[0].seconds == pytest.approx(1.0 + output / 50.0)
    assert slept == [pytest.approx((1.0 + output / 50.0) * 0.01)]
    assert fake.slowest_call_seconds == fake.calls[0].seconds


def test_the_first_request_writes_the_cache_and_later_ones_read_it() -> None:
    clock = Clock()
    fake, _ = fake_on(clock)

    first = fake.handle(request()).json()["usage"]
    clock.now += 0.05  # 5 simulated seconds later: the first answer has started
    second = fake.handle(request()).json()["usage"]

    assert first["cache_creation_input_tokens"] > 1024 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0
    assert second["input_tokens"] == first["input_tokens"]  # the messages after the breakpoint


def test_requests_arriving_before_the_first_answer_starts_each_write_the_cache() -> None:
    clock = Clock()
    fake, _ = fake_on(clock)

    usages = []
    for _ in range(3):  # the same instant: a parallel Map's first wave
        usages.append(fake.handle(request()).json()["usage"])

    assert [u["cache_read_input_tokens"] for u in usages] == [0, 0, 0]
    assert all(u["cache_creation_input_tokens"] > 0 for u in usages)


def test_the_cache_expires_after_its_ttl_without_reads() -> None:
    clock = Clock()
    fake, _ = fake_on(clock)
    fake.handle(request())

    clock.now += 320.0  # after the answer, local time counts 1:1: past the 5-minute TTL
    usage = fake.handle(request()).json()["usage"]

    assert usage["cache_read_input_tokens"] == 0 and usage["cache_creation_input_tokens"] > 0


def test_a_prefix_under_the_minimum_is_not_cached_but_billed_as_input() -> None:
    clock = Clock()
    fake, _ = fake_on(clock)

    short = "Short system prompt."
    usages = [fake.handle(request(system=short)).json()["usage"] for _ in range(2)]
    messages_only = fake.handle(request()).json()["usage"]["input_tokens"]  # cached prefix: messages only

    assert all(u["cache_creation_input_tokens"] == u["cache_read_input_tokens"] == 0 for u in usages)
    assert usages[0]["input_tokens"] == usages[1]["input_tokens"] > messages_only + estimate_tokens(short) - 1


def test_over_the_request_limit_answers_429_with_retry_after() -> None:
    clock = Clock()
    fake, _ = fake_on(clock, scale=0.01, limits=RateLimits(requests_per_minute=2))

    statuses = [fake.handle(request()).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    throttled = fake.handle(request())
    assert throttled.status_code == 429
    assert throttled.json()["error"]["type"] == "rate_limit_error"
    # 2 per minute refills one request every 30 simulated seconds; the test's real clock stands still,
    # so no simulated time has passed and the bucket is a whole refill away
    retry_after = int(throttled.headers["retry-after"])
    assert retry_after == 30
    assert float(throttled.headers["retry-after-ms"]) == pytest.approx(retry_after * 0.01 * 1000)
    assert fake.throttled == 2 and len(fake.calls) == 2


def test_output_tokens_per_minute_reserve_max_tokens_until_the_answer() -> None:
    clock = Clock()
    fake, _ = fake_on(clock, limits=RateLimits(output_tokens_per_minute=3000))
    bucket = fake._otpm
    assert bucket is not None

    # Arrival reserves max_tokens; the answer gives back what it did not use.
    assert fake._admit(2000) is None
    assert bucket.level == pytest.approx(1000)
    wait = fake._admit(2000)  # 1,000 left: a second 2,000-token reservation waits for the refill
    assert wait == pytest.approx(1000 / (3000 / 60))
    fake._settle(2000, 300)
    assert bucket.level == pytest.approx(2700)
    assert fake._admit(2000) is None


def test_token_bucket_refills_at_its_per_minute_rate_up_to_capacity() -> None:
    bucket = TokenBucket(capacity=600)
    bucket.level = 0
    bucket.refill(now=30.0)
    assert bucket.level == pytest.approx(300)
    assert bucket.wait_for(400) == pytest.approx(10.0)
    bucket.refill(now=1000.0)
    assert bucket.level == 600


def chunk_request(
    shared: str, instruction: str, *, model: str = "claude-sonnet-4-6", tool: str = "A"
) -> httpx2.Request:
    """System prompt and a shared user block as two breakpoints, then an uncached instruction."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 1000,
        "system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": shared + "\n" + USER, "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": instruction},
                ],
            }
        ],
        "tools": [{"name": "A", "input_schema": {"type": "object"}}, {"name": "B", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": tool},
    }
    return httpx2.Request("POST", "http://fake/v1/messages", content=json.dumps(body))


def test_each_breakpoint_caches_its_exact_prefix_and_a_request_reads_the_longest_live_one() -> None:
    clock = Clock()
    fake, _ = fake_on(clock)
    chunk = "Chunk one vocabulary. " * 300

    first = fake.handle(chunk_request(chunk, "Category: idiom")).json()["usage"]
    clock.now += 0.05  # its answer has started: the entries are readable
    same_chunk = fake.handle(chunk_request(chunk, "Category: pattern")).json()["usage"]
    other_chunk = fake.handle(chunk_request("Chunk two. " * 300, "Category: idiom")).json()["usage"]
    other_tool_choice = fake.handle(chunk_request(chunk, "Category: idiom", tool="B")).json()["usage"]

    assert first["cache_read_input_tokens"] == 0
    everything_cached = first["cache_creation_input_tokens"]
    assert same_chunk["cache_read_input_tokens"] == everything_cached and same_chunk["cache_creation_input_tokens"] == 0
    # another chunk reads the tools and system prompt and writes its own vocabulary
    system_part = other_chunk["cache_read_input_tokens"]
    assert 0 < system_part < everything_cached and other_chunk["cache_creation_input_tokens"] > 0
    # tool_choice is part of a message-level entry: changing it reads only up to the system prompt
    assert other_tool_choice["cache_read_input_tokens"] == system_part


def test_the_minimum_cacheable_length_is_the_models() -> None:
    clock = Clock()
    fake, _ = fake_on(clock)
    system_tokens = estimate_tokens(json.dumps({"type": "text", "text": SYSTEM}))
    assert 2_048 < system_tokens < 4_096  # cacheable on Sonnet 4.6, not on Haiku 4.5

    sonnet = fake.handle(chunk_request("x", "Category: idiom")).json()["usage"]
    haiku = fake.handle(chunk_request("x", "Category: idiom", model="claude-haiku-4-5")).json()["usage"]

    assert sonnet["cache_creation_input_tokens"] > 0
    assert haiku["cache_creation_input_tokens"] == haiku["cache_read_input_tokens"] == 0

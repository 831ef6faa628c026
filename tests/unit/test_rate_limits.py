"""Rate-limit-aware scheduling: right-sized max_tokens and the number of calls to keep in flight."""

from __future__ import annotations

from typing import Any

import pytest

from havachat.generation import generate_batch
from havachat.llm import InstructorClaude
from havachat.models import Category, Level, RunPlan, VocabItem, VocabList
from havachat.planning import LatencyModel, plan_run, plan_with_settings, planned_max_tokens
from havachat.prompts import max_items_for_tokens, max_tokens_for_items
from havachat.rate_limits import PlannedCall, RateLimits, calls_in_flight, map_concurrency, planned_calls
from havachat.settings import Settings
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import FIXTURES_DIR

LEVEL = Level.parse("HSK1")
LATENCY = LatencyModel()  # 1 s to first token + 60 tokens/s: a call writing 1,200 tokens takes 21 s


def _plan(words: list[VocabItem], **extra: Any) -> RunPlan:
    """`words` planned for Sonnet 4.6 at the default chunk budget and an 8,192-token ceiling."""
    return plan_run(
        VocabList(source="t.csv", items=words),
        run_id="r",
        language="zh",
        level=LEVEL,
        model="claude-sonnet-4-6",
        chunk_token_budget=12_000,
        max_tokens=8192,
        **extra,
    )


CALLS = [PlannedCall(expected_output_tokens=1_200, max_tokens=1_600, counted_input_tokens=500)] * 100
TIER2 = RateLimits(requests_per_minute=1_000, output_tokens_per_minute=90_000)


@pytest.mark.parametrize("target", [1, 2, 7, 17, 40])
def test_max_tokens_for_items_holds_the_target_within_the_headroom(target: int) -> None:
    assert max_items_for_tokens(max_tokens_for_items(target, 100_000)) >= target
    assert max_tokens_for_items(target, 1_000) <= 1_000


def test_unknown_limits_keep_the_configured_concurrency() -> None:
    assert calls_in_flight(CALLS, RateLimits(), latency=LATENCY, upper=10) == 10
    assert calls_in_flight([], TIER2, latency=LATENCY, upper=10) == 10


def test_enough_calls_to_use_the_output_budget_and_no_more() -> None:
    # 90,000 tokens a minute = 1,500 a second; one call writes 1,200 in 21 s (57 a second): 27 calls
    assert calls_in_flight(CALLS, TIER2, latency=LATENCY, upper=1_000) == 27


def test_reservations_bound_the_calls_in_flight() -> None:
    # every call reserves its max_tokens while it runs: 90,000 / 8,192 = 10 fit, whatever they write
    calls = [PlannedCall(expected_output_tokens=1_200, max_tokens=8_192, counted_input_tokens=500)] * 100
    assert calls_in_flight(calls, TIER2, latency=LATENCY, upper=1_000) == 10


def test_requests_and_input_per_minute_bound_the_calls_in_flight() -> None:
    # 60 requests a minute of 21 s calls: 21 in flight at most
    assert calls_in_flight(CALLS, RateLimits(requests_per_minute=60), latency=LATENCY, upper=1_000) == 21
    # 15,000 input tokens a minute at 500 each: 30 calls a minute, 10 in flight
    assert calls_in_flight(CALLS, RateLimits(input_tokens_per_minute=15_000), latency=LATENCY, upper=1_000) == 10


def test_the_configured_concurrency_is_the_upper_bound_and_one_the_lower() -> None:
    assert calls_in_flight(CALLS, TIER2, latency=LATENCY, upper=5) == 5
    assert calls_in_flight(CALLS, RateLimits(output_tokens_per_minute=100), latency=LATENCY, upper=10) == 1


def test_planned_calls_right_size_max_tokens_and_count_cached_input_once() -> None:
    plan = _plan([VocabItem(word=f"词{i}", definition="a word " * 5) for i in range(400)])
    calls = planned_calls(plan)
    assert [c.max_tokens for c in calls] == [max_tokens_for_items(b.target_items_max, 8192) for b in plan.batches]
    assert all(c.max_tokens < 8192 for c in calls)
    # the chunk's shared prefix is read from the cache: a call counts its instruction and a share of the write
    assert sum(c.counted_input_tokens for c in calls) < sum(b.estimated_input_tokens for b in plan.batches) / 2


def test_map_concurrency_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from havachat.vocab import read_vocab_file

    vocab = read_vocab_file(FIXTURES_DIR / "vocab" / "zh_hsk1.csv")
    monkeypatch.setenv("HAVACHAT_MAP_CONCURRENCY", "50")
    unknown = Settings()
    plan = plan_with_settings(vocab, unknown, run_id="r", language="zh", level=LEVEL)
    assert map_concurrency(plan, unknown) == 50

    monkeypatch.setenv("HAVACHAT_RATE_LIMIT_REQUESTS_PER_MINUTE", "1000")
    monkeypatch.setenv("HAVACHAT_RATE_LIMIT_INPUT_TOKENS_PER_MINUTE", "450000")
    monkeypatch.setenv("HAVACHAT_RATE_LIMIT_OUTPUT_TOKENS_PER_MINUTE", "4000")
    limited = Settings()
    assert RateLimits.from_settings(limited) == RateLimits(1_000, 450_000, 4_000)
    expected = calls_in_flight(planned_calls(plan), RateLimits(1_000, 450_000, 4_000), latency=LATENCY, upper=50)
    assert map_concurrency(plan, limited) == expected < 50


def test_a_call_asks_for_max_tokens_sized_to_its_items_and_its_halves_keep_them() -> None:
    words = [VocabItem(word=f"词{i}", romanization=f"cí{i}") for i in range(40)]
    spec = _plan(words, categories=(Category.PRONUNCIATION,)).batches[0]
    fake = FakeClaude()
    fake.script(truncated=True)
    llm = InstructorClaude(fake.client(max_retries=0), model="claude-sonnet-4-6", validation_max_retries=0)

    result = generate_batch(spec, words, language="zh", level=LEVEL, run_id="r", llm=llm, max_tokens=8192)

    right_sized = max_tokens_for_items(spec.target_items_max, 8192)
    assert right_sized < 8192
    # the cut-off call and both halves (half the items each: twice the room per item) ask for the same
    assert [body["max_tokens"] for body in fake.requests] == [right_sized] * 3
    assert result.splits == 1 and len(result.items) >= spec.target_items_min


def test_with_an_output_limit_chunks_are_sized_for_a_minute_of_output_at_most() -> None:
    # a call streams 60 tokens/s: Tier 2's 90,000 a minute take 25 calls, whose reservations fit at 3,600 each
    assert planned_max_tokens(Settings()) == 8192
    assert planned_max_tokens(Settings(rate_limit_output_tokens_per_minute=90_000)) == 3_600
    assert planned_max_tokens(Settings(rate_limit_output_tokens_per_minute=90_000, max_tokens=2_000)) == 2_000
    words = [VocabItem(word=f"词{i}", definition="a word " * 5) for i in range(2_000)]
    plans = [
        plan_with_settings(VocabList(source="t.csv", items=words), s, run_id="r", language="zh", level=LEVEL)
        for s in (Settings(), Settings(rate_limit_output_tokens_per_minute=90_000))
    ]
    assert [p.max_tokens for p in plans] == [8192, 3_600]
    assert len(plans[1].batches) > len(plans[0].batches)
    assert max(c.max_tokens for c in planned_calls(plans[1])) <= 3_600

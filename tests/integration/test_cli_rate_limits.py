"""`havachat plan` with the organisation's rate limits in the environment: the concurrency Plan will use."""

from __future__ import annotations

import json

from tests.integration.test_cli import SAMPLES, havachat


def test_plan_shows_the_concurrency_lowered_to_the_rate_limits() -> None:
    args = ("plan", str(SAMPLES / "zh_top5000.csv"), "-l", "zh", "--level", "HSK6", "--json", "--concurrency", "50")

    unknown = json.loads(havachat(*args).stdout)
    limited = json.loads(havachat(*args, env={"HAVACHAT_RATE_LIMIT_OUTPUT_TOKENS_PER_MINUTE": "90000"}).stdout)

    # Without limits the Map runs --concurrency batches at once; with Tier 2's output tokens per minute,
    # as many as use them (a call streams ~60 tokens/s: ~25), and chunks sized for a minute of output
    assert unknown["concurrency"] == 50
    assert 20 <= limited["concurrency"] < 50
    assert limited["summary"]["batches"] > unknown["summary"]["batches"]
    assert max(b["estimated_output_tokens"] for b in limited["batches"]) <= 3_600 * 0.8

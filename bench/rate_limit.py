"""(c) Under a rate limit: the pipeline's wall time against the floor set by output tokens per minute.

The 5,000-word list through the real state machine on moto, against `LatencyClaude` with Anthropic's
Tier 2 limits for Sonnet (1,000 requests and 90,000 output tokens per minute). The floor is the
time the output-token budget needs: total output tokens / OTPM (a full bucket at the start lets a run
finish up to one minute's worth earlier). Like the API, each request reserves `max_tokens` of the
output budget while it runs, so `max_tokens` bounds how many calls fit in flight.

The SDK waits out each 429 as `retry-after-ms` says. Many calls waiting on the same budget retry
together and most lose again, so `sdk_max_retries` is raised to 1,000 here: a batch that fell through
to the state machine's LlmThrottled retry would sleep its 20 s intervals in real time in moto, outside
the simulated clock (the table counts such fall-throughs; they should be 0).

    python -m bench.rate_limit [--quick]
"""

from __future__ import annotations

import argparse
import math
import time

from bench.common import HSK1, TOP5000, quiet_handlers, table
from bench.designs import Measured, measure, pipeline
from bench.fake_anthropic import RateLimits
from havachat.settings import Settings
from havachat.vocab import read_vocab_file

TIER2 = RateLimits(requests_per_minute=1_000, output_tokens_per_minute=90_000)

# (concurrency, max_tokens, time scale)
CONFIGS = [(10, 8192, 0.04), (180, 8192, 0.1), (180, 5120, 0.1)]


def run(quick: bool) -> list[tuple[Measured, int, int]]:
    file = HSK1 if quick else TOP5000
    limits = RateLimits(requests_per_minute=50, output_tokens_per_minute=2_000) if quick else TIER2
    vocab = read_vocab_file(file)
    rows = []
    for concurrency, max_tokens, scale in CONFIGS:
        settings = Settings(sdk_max_retries=1_000, max_tokens=max_tokens)
        measured = measure(
            file,
            f"pipeline, concurrency {concurrency}, max_tokens {max_tokens:,}",
            pipeline(file, vocab, settings, concurrency),
            scale=scale,
            settings=settings,
            limits=limits,
        )
        rows.append((measured, limits.output_tokens_per_minute or 0, limits.requests_per_minute or 0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="Wall time under a rate limit vs the output-token floor")
    parser.add_argument("--quick", action="store_true", help="HSK 1 under a tiny limit instead of 5,000 words")
    args = parser.parse_args()
    quiet_handlers()
    started = time.perf_counter()
    rows = run(args.quick)
    print(f"(c) Under a rate limit ({rows[0][2]:,} RPM, {rows[0][1]:,} OTPM)\n")
    print(
        table(
            [
                "file",
                "design",
                "batches",
                "output tokens",
                "floor: output / OTPM (s)",
                "wall (s)",
                "wall / floor",
                "429 answers",
                "unthrottled ideal (s)",
                "LlmThrottled to the state machine",
            ],
            [
                (
                    m.file,
                    m.design,
                    m.batches,
                    m.usage.output_tokens,
                    m.usage.output_tokens / otpm * 60,
                    m.wall,
                    f"{m.wall / (m.usage.output_tokens / otpm * 60):.2f}",
                    m.throttled,
                    m.ideal,
                    m.failed_invocations,
                )
                for m, otpm, _ in rows
            ],
        )
    )
    print(f"\nbench.rate_limit took {math.ceil(time.perf_counter() - started)} s")


if __name__ == "__main__":
    main()

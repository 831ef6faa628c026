"""(c) Under a rate limit: the pipeline's wall time against the floor set by output tokens per minute.

The 5,000-word list through the real state machine on moto, against `LatencyClaude` with Anthropic's
Tier 2 limits for Sonnet (1,000 requests and 90,000 output tokens per minute). The floor is the
time the output-token budget needs: total output tokens / OTPM (a full bucket at the start lets a run
finish up to one minute's worth earlier). Like the API, each request reserves `max_tokens` of the
output budget while it runs, so `max_tokens` bounds how many calls fit in flight.

Side by side in one run:

- before: every call asks for `max_tokens` 8,192 (the ceiling; `CeilingMaxTokens` puts it back on each
  request) and the Map runs a fixed number of batches at once (10, and one lane per batch), no limits known;
- rate-aware: the limits in settings; chunks are sized for answers of at most a minute of output
  (`havachat.planning.planned_max_tokens`), each call asks for a `max_tokens` sized to its item target,
  and Plan sets the Map's concurrency from the limits (`havachat.rate_limits`), MapConcurrency 180 as
  the upper bound; with the local default chunk budget (12,000) and the template's (6,000).

HSK 1 under the rate-aware design is measured against its slowest call (its 9 batches fit the limits at once).

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
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import BaseModel

from bench.common import HSK1, TOP5000, quiet_handlers, table
from bench.designs import Design, Measured, measure, pipeline
from bench.fake_anthropic import RateLimits
from havachat.ledger import CallUsage
from havachat.llm import InstructorClaude
from havachat.llm_port import LlmAnswer, LlmRequest, ModelT, StructuredAnswer
from havachat.models import LearningItemBatch, Level
from havachat.planning import plan_with_settings
from havachat.rate_limits import map_concurrency
from havachat.settings import Settings
from havachat.vocab import read_vocab_file

TIER2 = RateLimits(requests_per_minute=1_000, output_tokens_per_minute=90_000)
FAN_OUT = 180  # one lane per batch of the 5,000-word list: the rate-aware runs' MapConcurrency


@dataclass
class CeilingMaxTokens:
    """The LLM as before right-sizing: every batch call asks for the configured `max_tokens`."""

    llm: InstructorClaude
    max_tokens: int

    @property
    def model(self) -> str:
        return self.llm.model

    def generate(self, request: LlmRequest) -> LlmAnswer:
        return self.llm.generate(replace(request, max_tokens=self.max_tokens))

    def warm(self, request: LlmRequest, response_model: type[BaseModel] = LearningItemBatch) -> list[CallUsage]:
        return self.llm.warm(request, response_model)

    def generate_structured(self, request: LlmRequest, response_model: type[ModelT]) -> StructuredAnswer[ModelT]:
        return self.llm.generate_structured(request, response_model)


@dataclass(frozen=True)
class Config:
    """One row: the design, the Map's concurrency (the upper bound for rate-aware runs), the chunk budget
    and the time scale (large enough that the handlers' local CPU, which counts at real speed, stays small
    next to the model time of 20+ calls in flight)."""

    file: Path
    rate_aware: bool
    concurrency: int
    budget: int
    scale: float


CONFIGS = [
    Config(TOP5000, False, 10, 12_000, 0.04),
    Config(TOP5000, False, FAN_OUT, 12_000, 0.25),
    Config(TOP5000, True, FAN_OUT, 12_000, 0.25),
    Config(TOP5000, True, FAN_OUT, 6_000, 0.3),  # the template's ChunkTokenBudget
    Config(HSK1, True, FAN_OUT, 12_000, 0.2),
]
QUICK = [Config(HSK1, False, 10, 12_000, 0.05), Config(HSK1, True, FAN_OUT, 12_000, 0.05)]
QUICK_LIMITS = RateLimits(requests_per_minute=50, output_tokens_per_minute=4_000)


def ceiling(design: Design, max_tokens: int) -> Design:
    return lambda llm, start_timing: design(CeilingMaxTokens(llm, max_tokens), start_timing)  # type: ignore[arg-type]


def run_config(config: Config, limits: RateLimits) -> Measured:
    vocab = read_vocab_file(config.file)
    settings = Settings(sdk_max_retries=1_000, map_concurrency=config.concurrency, chunk_token_budget=config.budget)
    if config.rate_aware:
        settings = settings.model_copy(
            update={
                "rate_limit_requests_per_minute": limits.requests_per_minute or 0,
                "rate_limit_output_tokens_per_minute": limits.output_tokens_per_minute or 0,
            }
        )
    plan = plan_with_settings(vocab, settings, run_id="bench", language="zh", level=Level.parse("HSK1"))
    lanes = map_concurrency(plan, settings)
    design = pipeline(config.file, vocab, settings, config.concurrency)
    if config.rate_aware:
        name = f"rate-aware, budget {config.budget:,}: Plan's concurrency {lanes} (at most {config.concurrency})"
    else:
        name = f"before, budget {config.budget:,}: max_tokens {settings.max_tokens:,}, concurrency {config.concurrency}"
        design = ceiling(design, settings.max_tokens)
    return measure(config.file, name, design, scale=config.scale, settings=settings, limits=limits)


def main() -> None:
    parser = argparse.ArgumentParser(description="Wall time under a rate limit vs the output-token floor")
    parser.add_argument("--quick", action="store_true", help="HSK 1 only, under a tiny limit")
    args = parser.parse_args()
    quiet_handlers()
    started = time.perf_counter()
    limits = QUICK_LIMITS if args.quick else TIER2
    otpm = limits.output_tokens_per_minute or 0
    rows = [run_config(config, limits) for config in (QUICK if args.quick else CONFIGS)]
    print(f"(c) Under a rate limit ({limits.requests_per_minute:,} RPM, {otpm:,} OTPM)\n")
    print(
        table(
            [
                "file",
                "design",
                "batches",
                "output tokens",
                "floor: output / OTPM (s)",
                "LLM phase (s)",
                "wall (s)",
                "wall / floor",
                "429 answers",
                "cost USD",
                "slowest call (s)",
                "wall / slowest call",
                "LlmThrottled to the state machine",
            ],
            [
                (
                    m.file,
                    m.design,
                    m.batches,
                    m.usage.output_tokens,
                    m.usage.output_tokens / otpm * 60,
                    m.wall - m.lead - m.tail,
                    m.wall,
                    f"{m.wall / (m.usage.output_tokens / otpm * 60):.2f}",
                    m.throttled,
                    f"{m.usage.cost_usd:.2f}",
                    m.slowest,
                    f"{m.wall / m.slowest:.2f}",
                    m.failed_invocations,
                )
                for m in rows
            ],
        )
    )
    print(f"\nbench.rate_limit took {math.ceil(time.perf_counter() - started)} s")


if __name__ == "__main__":
    main()

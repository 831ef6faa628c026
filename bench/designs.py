"""(a) designs side by side, (b) wall time against the slowest call, the shared prefix's share, identical re-runs.

Every design runs in this process against the same kind of fake (`bench.fake_anthropic.LatencyClaude`
on loopback, real anthropic SDK + instructor over HTTP), each on a fresh fake so caches start cold:

- one call per word, one after another (the loop the seed started from);
- one batch call per category batch, one after another (the seed's batch mode; 9 calls for HSK 1);
- this pipeline: the real state machine and handlers on moto (`LocalPipeline`), Distributed Map at
  concurrency 10 (the default) and fanned out (one lane per batch; `PIPELINES` lists the configurations).

Wall times are simulated seconds (see `bench.fake_anthropic.SimClock`); each design has its own time
scale, chosen so that the run takes seconds while real model time dominates local overhead.

    python -m bench.designs [--quick] [--scale-factor 1.0]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import HSK1, TOP5000, Usage, quiet_handlers, table
from bench.fake_anthropic import LatencyClaude, RateLimits, anthropic_client
from havachat.generation import generate_batch
from havachat.llm import InstructorClaude
from havachat.llm_port import LlmRequest
from havachat.models import Category, Level, VocabList
from havachat.planning import LatencyModel, estimate_wall_seconds, per_word_message, plan_with_settings
from havachat.prompts import system_prompt
from havachat.settings import Settings
from havachat.vocab import read_vocab_file

LEVEL = Level.parse("HSK1")
LANGUAGE = "zh"
FAN_OUT_BUDGET = 6_000  # the template's ChunkTokenBudget default: 3 chunks (27 batches) for HSK 1


@dataclass
class Measured:
    file: str
    design: str
    batches: int
    concurrency: int
    usage: Usage
    throttled: int
    wall: float  # simulated seconds
    slowest: float  # simulated seconds of the slowest answered call
    ideal: float  # simulated seconds: the calls' own latencies packed onto `concurrency` lanes, no overhead
    lead: float  # simulated seconds from the start to the first call's arrival (Plan, Map start)
    tail: float  # simulated seconds from the last answer to the end (Finalize, execution end)
    cpu: float  # real CPU seconds of this process during the run
    real: float  # real seconds the run took
    failed_invocations: int = 0  # GenerateBatch invocations that raised (retried or caught by the state machine)


Design = Callable[[InstructorClaude, Callable[[], None]], tuple[int, int] | tuple[int, int, int]]
"""Runs a design through the LLM, calling the second argument when the timed part starts (after any set-up);
returns (batches, concurrency[, failed GenerateBatch invocations])."""


def measure(
    file: Path,
    name: str,
    design: Design,
    *,
    scale: float,
    settings: Settings,
    limits: RateLimits | None = None,
    min_cache_tokens: int | None = None,
) -> Measured:
    """`design` against a fresh `LatencyClaude` (cold cache); `min_cache_tokens` None = the model's minimum."""
    fake = LatencyClaude(scale=scale, limits=limits, min_cache_tokens=min_cache_tokens)
    with fake.serve() as url:
        client = anthropic_client(url, max_retries=settings.sdk_max_retries)
        llm = InstructorClaude(client, model=settings.model, validation_max_retries=settings.validation_max_retries)
        marks: list[tuple[float, float, float]] = []

        def start_timing() -> None:
            marks.append((fake.clock.now(), time.process_time(), time.perf_counter()))

        batches, concurrency, *failed = design(llm, start_timing)
        start, cpu, real = marks[0]
        wall = fake.clock.now() - start
        cpu, real = time.process_time() - cpu, time.perf_counter() - real
    tokens = [c.usage["output_tokens"] for c in fake.calls]
    first = min((c.arrived for c in fake.calls), default=start) - start
    last = max((c.arrived + c.seconds for c in fake.calls), default=start) - start
    ideal = estimate_wall_seconds(tokens, concurrency=concurrency, latency=fake.latency)
    return Measured(
        file=file.name,
        design=name,
        batches=batches,
        concurrency=concurrency,
        usage=Usage.of(fake.calls, settings.model),
        throttled=fake.throttled,
        wall=wall,
        slowest=fake.slowest_call_seconds,
        ideal=ideal,
        lead=first,
        tail=wall - last,
        cpu=cpu,
        real=real,
        failed_invocations=sum(failed),
    )


def per_word(vocab: VocabList, settings: Settings) -> Design:
    def run(llm: InstructorClaude, start_timing: Callable[[], None]) -> tuple[int, int]:
        start_timing()
        for item in vocab.items:
            user = per_word_message(item, LANGUAGE, LEVEL, list(Category))
            llm.generate(LlmRequest(system_prompt(), user, settings.max_tokens))
        return len(vocab.items), 1

    return run


def sequential_batches(vocab: VocabList, settings: Settings) -> Design:
    def run(llm: InstructorClaude, start_timing: Callable[[], None]) -> tuple[int, int]:
        start_timing()
        plan = plan_with_settings(vocab, settings, run_id="bench", language=LANGUAGE, level=LEVEL)
        for spec in plan.batches:
            words = vocab.items[spec.word_start : spec.word_end]
            generate_batch(
                spec, words, language=LANGUAGE, level=LEVEL, run_id="bench", llm=llm, max_tokens=plan.max_tokens
            )
        return len(plan.batches), 1

    return run


def pipeline(file: Path, vocab: VocabList, settings: Settings, concurrency: int | None) -> Design:
    """The real state machine on moto; concurrency None = one lane per batch (fan-out)."""
    from havachat_local.runner import BatchProgress, LocalPipeline

    batches = len(plan_with_settings(vocab, settings, run_id="bench", language=LANGUAGE, level=LEVEL).batches)
    lanes = concurrency or batches

    def run(llm: InstructorClaude, start_timing: Callable[[], None]) -> tuple[int, int, int]:
        failed: list[str] = []

        def progress(batch: BatchProgress) -> None:
            if not batch.ok:
                failed.append(str(batch.error_type))

        with LocalPipeline(llm, settings=settings, map_concurrency=lanes, progress=progress) as local:
            start_timing()  # from the upload: building moto and importing the handlers is not the run
            result = local.run_file(file, language=LANGUAGE, level="HSK1", timeout_s=3600)
        if result.summary is None or result.summary.status.value != "SUCCEEDED":
            raise RuntimeError(f"pipeline run did not succeed: {result.execution_status} {result.summary}")
        return batches, lanes, len(failed)

    return run


@dataclass(frozen=True)
class PipelineRun:
    """One pipeline configuration: chunk budget, Map concurrency (None = one lane per batch) and time scale."""

    budget: int
    concurrency: int | None
    scale: float


# Time scales: sequential designs run at small scales (their overhead counts at real speed); pipeline runs at
# scales where the slowest call takes seconds of real time, so that handler work overlapping calls in flight
# (stretched by 1/scale, see SimClock) stays small next to it.
PIPELINES = {
    HSK1.name: [PipelineRun(12_000, 10, 0.2), PipelineRun(FAN_OUT_BUDGET, None, 0.5)],
    TOP5000.name: [PipelineRun(12_000, 10, 0.04), PipelineRun(12_000, None, 0.5)],
}


def run_designs(file: Path, *, scale_factor: float, per_word_limit: int | None) -> list[Measured]:
    settings = Settings()
    vocab = read_vocab_file(file)
    sample = vocab
    if per_word_limit is not None and len(vocab.items) > per_word_limit:
        sample = vocab.model_copy(update={"items": vocab.items[:per_word_limit]})
    sampled = f" (first {len(sample.items):,} words)" if sample is not vocab else ""
    rows = [
        measure(
            file,
            "one call per word, sequential" + sampled,
            per_word(sample, settings),
            scale=0.001 * scale_factor,
            settings=settings,
        ),
        measure(
            file,
            "one call per category batch, sequential (seed)",
            sequential_batches(vocab, settings),
            scale=(0.002 if len(vocab.items) > 1000 else 0.01) * scale_factor,
            settings=settings,
        ),
    ]
    for config in PIPELINES.get(file.name, PIPELINES[HSK1.name]):
        configured = settings.model_copy(update={"chunk_token_budget": config.budget})
        lanes = "one lane per batch" if config.concurrency is None else f"concurrency {config.concurrency}"
        rows.append(
            measure(
                file,
                f"pipeline, budget {config.budget:,}, {lanes}",
                pipeline(file, vocab, configured, config.concurrency),
                scale=config.scale * scale_factor,
                settings=configured,
            )
        )
    return rows


def rerun_calls(file: Path) -> list[tuple[str, int, str]]:
    """LLM calls of the same file run again in the same stack: the same event again, and the same bytes re-uploaded."""
    from havachat_local.runner import LocalPipeline, s3_object_created_event

    settings = Settings()
    fake = LatencyClaude(scale=0.001)
    rows: list[tuple[str, int, str]] = []
    with fake.serve() as url:
        llm = InstructorClaude(anthropic_client(url), model=settings.model)
        with LocalPipeline(llm, settings=settings) as local:
            data = file.read_bytes()
            key = f"uploads/{LANGUAGE}/HSK1/{file.name}"
            source = local.upload(data, key)
            event = s3_object_created_event(source, len(data))
            for label, run in (
                ("first run", lambda: local.run_event(event)),
                ("the same event again (EventBridge redelivery)", lambda: local.run_event(event)),
                ("the same bytes uploaded again (new object version)", lambda: local.run_bytes(data, key)),
            ):
                before = len(fake.calls)
                result = run()
                status = result.summary.status.value if result.summary else result.execution_status
                note = f"{status}{', duplicate' if result.duplicate else ''}"
                rows.append((label, len(fake.calls) - before, note))
    return rows


def prefix_share(rows: list[Measured]) -> str:
    """The cached prefix (tool, system prompt and, per chunk, the vocabulary) as a share of all input tokens:
    sent, processed fresh, and in USD."""
    out = []
    for m in rows:
        u = m.usage
        sent = (u.cache_write_tokens + u.cache_read_tokens) / u.all_input_tokens
        fresh = u.cache_write_tokens / u.all_input_tokens
        # Sonnet list prices per million: input 3.00, cache write 3.75, cache read 0.30
        dollars = (u.cache_write_tokens * 3.75 + u.cache_read_tokens * 0.30) / (
            u.input_tokens * 3.0 + u.cache_write_tokens * 3.75 + u.cache_read_tokens * 0.30
        )
        out.append((m.file, m.design, u.calls, u.all_input_tokens, f"{sent:.1%}", f"{fresh:.1%}", f"{dollars:.1%}"))
    return table(
        ["file", "design", "calls", "all input tokens", "prefix sent", "prefix written (full price)", "prefix USD"],
        out,
    )


def designs_table(rows: list[Measured]) -> str:
    seed = {m.file: m.wall for m in rows if "(seed)" in m.design}
    return table(
        [
            "file",
            "design",
            "calls",
            "input",
            "output",
            "cache write",
            "cache read",
            "cost USD",
            "wall (sim s)",
            "vs seed",
        ],
        [
            (
                m.file,
                m.design,
                m.usage.calls,
                m.usage.input_tokens,
                m.usage.output_tokens,
                m.usage.cache_write_tokens,
                m.usage.cache_read_tokens,
                f"{m.usage.cost_usd:.4f}",
                m.wall,
                f"{seed[m.file] / m.wall:.2f}x",
            )
            for m in rows
        ],
    )


def floor_table(rows: list[Measured]) -> str:
    return table(
        [
            "file",
            "design",
            "batches",
            "concurrency",
            "slowest call (s)",
            "ideal at this concurrency (s)",
            "wall (s)",
            "wall / slowest",
            "wall / ideal",
            "before 1st call (s)",
            "after last answer (s)",
            "local CPU (real s)",
        ],
        [
            (
                m.file,
                m.design,
                m.batches,
                m.concurrency,
                m.slowest,
                m.ideal,
                m.wall,
                f"{m.wall / m.slowest:.3f}",
                f"{m.wall / m.ideal:.3f}",
                m.lead,
                m.tail,
                m.cpu,
            )
            for m in rows
            if m.design.startswith("pipeline")
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Designs side by side on a latency-modelled fake Claude")
    parser.add_argument("--quick", action="store_true", help="HSK 1 only (seconds instead of minutes)")
    parser.add_argument("--scale-factor", type=float, default=1.0, help="multiply every time scale (slower, finer)")
    parser.add_argument(
        "--per-word-limit", type=int, default=None, help="run the per-word design on the first N words only"
    )
    args = parser.parse_args()
    quiet_handlers()
    latency = LatencyModel()
    print(
        f"Latency model: {latency.first_token_seconds:.1f} s to first token + output tokens / "
        f"{latency.output_tokens_per_second:.0f} per s; prompt cache minimum by model, TTL 5 min.\n"
    )
    started = time.perf_counter()
    files = [HSK1] if args.quick else [HSK1, TOP5000]
    rows: list[Measured] = []
    for file in files:
        rows += run_designs(file, scale_factor=args.scale_factor, per_word_limit=args.per_word_limit)
    print("(a) Designs side by side\n")
    print(designs_table(rows))
    print("\n(b) The pipeline's wall time against its slowest single call\n")
    print(floor_table(rows))
    print("\nCached prefix (tool, system prompt, per-chunk vocabulary) in all input tokens\n")
    print(prefix_share([m for m in rows if m.file == TOP5000.name] or rows))
    print("\nIdentical re-runs (same stack, HSK 1)\n")
    print(table(["run", "LLM calls", "outcome"], rerun_calls(HSK1)))
    print(f"\nbench.designs took {math.ceil(time.perf_counter() - started)} s")


if __name__ == "__main__":
    main()

"""(g) Message Batches mode against sync mode: calls, tokens and cost of the same runs on the same fake.

HSK 1 and the 5,000-word list go through the real state machine on moto (`LocalPipeline`), once with
`llm_mode=sync` (WarmCache, then one Messages call per batch in the Map) and once with `llm_mode=batch`
(one Message Batch, polled with no wait, then the Map finds every output written), each against a fresh
`tests.fakes.fake_claude.FakeClaude` with the model's minimum cacheable length. The fake answers a Message
Batch's requests one after the other with the same prompt caching as the Messages endpoint, so the
batch row's cache reads are the best case; the API caches within a batch only on a best-effort basis,
and the "no cache hit" row re-prices the same tokens as if every cached token had been plain input.

Cost is what the run summary reports (the ledger: batch usage at half the list price). Cost per 1,000
words re-prices each row's tokens with every model of `havachat.ledger.PRICES`. Latency is not measured:
a Message Batch answers within 24 hours, most within an hour; on the fake it ends on the first poll.

    python -m bench.message_batches [--quick]      # --quick: HSK 1 only
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import HSK1, TOP5000, quiet_handlers, table
from havachat.ledger import BATCH_PRICE_FACTOR, PRICES, UsageTotals
from havachat.llm import InstructorClaude
from havachat.settings import LlmMode, Settings
from havachat.vocab import read_vocab_file
from tests.fakes.fake_claude import FakeClaude

MODEL = "claude-sonnet-4-6"


@dataclass(frozen=True)
class Row:
    file: str
    words: int
    mode: str
    usage: UsageTotals
    factor: float  # the price factor of every token of the row (batch: half)
    seconds: float

    def cost_with(self, family: str, *, cached: bool = True) -> float:
        """The row's tokens at `family`'s prices (and the row's factor); `cached` False: cache hits as input."""
        price, u = PRICES[family], self.usage
        if cached:
            dollars = (
                u.input_tokens * price.input
                + u.output_tokens * price.output
                + u.cache_write_tokens * price.cache_write
                + u.cache_read_tokens * price.cache_read
            )
        else:
            all_input = u.input_tokens + u.cache_write_tokens + u.cache_read_tokens
            dollars = all_input * price.input + u.output_tokens * price.output
        return dollars * self.factor / 1_000_000


def run(file: Path, mode: LlmMode) -> Row:
    """One run of `file` in `mode` on a fresh fake; fails unless every batch succeeded in that mode."""
    from havachat_local.runner import LocalPipeline

    settings = Settings(model=MODEL, sdk_max_retries=0, llm_mode=mode, batch_poll_seconds=0)
    fake = FakeClaude(min_cache_tokens=None)
    llm = InstructorClaude(fake.client(max_retries=0), model=MODEL)
    started = time.perf_counter()
    with LocalPipeline(llm, settings=settings) as local:
        result = local.run_file(file, language="zh", level="HSK1", timeout_s=3600)
    summary = result.summary
    if summary is None or summary.status.value != "SUCCEEDED":
        raise RuntimeError(f"{file.name} {mode}: {result.execution_status} {result.execution_cause}")
    if mode is LlmMode.BATCH and fake.requests:
        raise RuntimeError(f"{file.name}: {len(fake.requests)} batches fell back to sync calls")
    factor = BATCH_PRICE_FACTOR if mode is LlmMode.BATCH else 1.0
    words = len(read_vocab_file(file).items)
    return Row(file.name, words, mode.value, summary.usage, factor, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="HSK 1 only")
    args = parser.parse_args()
    quiet_handlers()
    files = [HSK1] if args.quick else [HSK1, TOP5000]
    rows = [run(file, mode) for file in files for mode in (LlmMode.SYNC, LlmMode.BATCH)]

    print(f"Sync vs Message Batches, {MODEL}, the same FakeClaude (prompt caching at the model's minimum)\n")
    print(
        table(
            [
                "list",
                "words",
                "mode",
                "calls",
                "input",
                "cache write",
                "cache read",
                "output",
                "cost USD",
                "local run s",
            ],
            [
                (
                    r.file,
                    r.words,
                    r.mode,
                    r.usage.calls,
                    r.usage.input_tokens,
                    r.usage.cache_write_tokens,
                    r.usage.cache_read_tokens,
                    r.usage.output_tokens,
                    f"{r.usage.cost_usd:.4f}",
                    round(r.seconds, 1),
                )
                for r in rows
            ],
        )
    )
    print("\nCost per 1,000 words (USD), each row's tokens at each model's prices\n")
    labelled = [(r, f"{r.mode}", True) for r in rows]
    labelled += [(r, "batch, no cache hit", False) for r in rows if r.mode == LlmMode.BATCH.value]
    print(
        table(
            ["list", "mode", *PRICES],
            [
                (r.file, label, *(f"{r.cost_with(f, cached=cached) * 1000 / r.words:.4f}" for f in PRICES))
                for r, label, cached in labelled
            ],
        )
    )


if __name__ == "__main__":
    main()

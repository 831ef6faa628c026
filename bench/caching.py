"""(d) Per-chunk prompt caching: this tree against a baseline revision, same fake, same limits, one run.

HSK 1 and the 5,000-word list (with the definitions this tree's Plan fills in, written out first so
both trees plan the same words) go through the real state machine on moto (`LocalPipeline`), one Map lane
per batch, against `LatencyClaude` with Tier 2 limits for Sonnet (1,000 requests and 90,000 output
tokens per minute) and the prompt-caching model of `tests.fakes.fake_claude` (a cache entry per
breakpoint, keyed by the exact prefix bytes, readable once its writer's first token is out, not below
the model's minimum, 5-minute TTL). `--baseline REV` runs the same on that revision's code (a git
worktree: its `shared/` and `local/` first on PYTHONPATH, this tree's fake and bench code after), each
run in its own interpreter.

Full-price input equivalents = uncached input + 1.25 x cache writes + 0.1 x cache reads (what the
input costs, in tokens at the base input price). The LLM phase runs from the first call's arrival to
the last answer (simulated seconds). Cost per 1,000 words re-prices this tree's measured tokens with
each model of the price table (`havachat.ledger.PRICES`); "chunks cacheable" says whether every
chunk's shared prefix (estimated) reaches that model's minimum, i.e. whether the same caching holds.

    python -m bench.caching [--baseline fd5d47b] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import HSK1, TOP5000, run_in_tree, table

TIME_SCALES = {HSK1.name: 0.5, TOP5000.name: 0.1}
DEFAULT_MODEL = "claude-sonnet-4-5"  # minimum 1,024: the system prompt alone caches, as in the issue


def full_price_equivalents(row: dict[str, Any]) -> float:
    return row["input"] + 1.25 * row["cache_write"] + 0.1 * row["cache_read"]


def worker(file: Path, model: str, scale: float, min_cache_tokens: int) -> dict[str, Any]:
    """One pipeline run on the code first on sys.path; its figures as a dict."""
    from bench.common import quiet_handlers
    from bench.designs import measure, pipeline
    from bench.rate_limit import TIER2
    from havachat.settings import Settings
    from havachat.vocab import read_vocab_file

    quiet_handlers()
    settings = Settings(model=model, sdk_max_retries=1_000)
    vocab = read_vocab_file(file)
    m = measure(
        file,
        "one lane per batch",
        pipeline(file, vocab, settings, None),
        scale=scale,
        settings=settings,
        limits=TIER2,
        min_cache_tokens=min_cache_tokens,
    )
    u = m.usage
    return {
        "file": m.file,
        "words": len(vocab.items),
        "batches": m.batches,
        "calls": u.calls,
        "input": u.input_tokens,
        "output": u.output_tokens,
        "cache_write": u.cache_write_tokens,
        "cache_read": u.cache_read_tokens,
        "cost_usd": u.cost_usd,
        "llm_phase": m.wall - m.lead - m.tail,
        "wall": m.wall,
        "slowest": m.slowest,
        "throttled": m.throttled,
    }


def prefilled(file: Path, into: Path) -> Path:
    """`file` with the readings and definitions this tree's Plan fills in from its dictionaries, as a CSV.

    Both trees then plan the same words with the same definitions, so the rows differ by the prompt
    layout and the warm-up, not by what the words carry.
    """
    from havachat.languages.dictionary import fill_from_dictionaries
    from havachat.vocab import read_vocab_file

    vocab = fill_from_dictionaries(read_vocab_file(file), "zh")
    path = into / file.name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["word", "romanization", "definition", "pos"])
        writer.writerows([i.word, i.romanization or "", i.definition or "", i.pos or ""] for i in vocab.items)
    return path


def run_tree(label: str, code_root: Path, files: list[Path], model: str) -> list[dict[str, Any]]:
    """Each file in its own interpreter with `code_root`'s pipeline code and this tree's bench and fake."""
    from havachat.prompts import min_cacheable_tokens

    rows = []
    for file in files:
        row = run_in_tree(
            code_root,
            "bench.caching",
            *("--worker", str(file), "--model", model, "--scale", str(TIME_SCALES[file.name])),
            *("--min-cache-tokens", str(min_cacheable_tokens(model))),
        )
        row["code"] = label
        rows.append(row)
        print(f"{label} {file.name}: {row['calls']} calls, LLM phase {row['llm_phase']:.1f} s", flush=True)
    return rows


def per_model_costs(rows: list[dict[str, Any]], files: list[Path], model: str) -> str:
    """This tree's measured tokens priced per model, per 1,000 words, with whether the caching holds for it."""
    from havachat.ledger import PRICES
    from havachat.prompts import MIN_CACHEABLE_TOKENS, min_cacheable_tokens

    out = []
    for row in rows:
        smallest = smallest_shared_prefix(next(f for f in files if f.name == row["file"]), model)
        for family, price in PRICES.items():
            minimum = max(min_cacheable_tokens(m) for m in [family, *(m for m in MIN_CACHEABLE_TOKENS if family in m)])
            cost = (
                row["input"] * price.input
                + row["output"] * price.output
                + row["cache_write"] * price.cache_write
                + row["cache_read"] * price.cache_read
            ) / 1e6
            cacheable = "yes" if smallest >= minimum else f"no (smallest {smallest:,})"
            out.append((row["file"], family, f"{minimum:,}", cacheable, f"{cost * 1000 / row['words']:.4f}"))
    header = ["file", "model family", "min cacheable (largest in family)", "chunks cacheable", "USD per 1,000 words"]
    return table(header, out)


def smallest_shared_prefix(file: Path, model: str) -> int:
    """Estimated tokens of the smallest chunk's cached prefix (tool, system prompt, shared block) in this plan."""
    from havachat.models import Level
    from havachat.planning import estimate_tokens, plan_with_settings, system_prompt_tokens, tool_overhead_tokens
    from havachat.prompts import render_shared
    from havachat.settings import Settings
    from havachat.vocab import read_vocab_file

    vocab = read_vocab_file(file)
    level = Level.parse("HSK1")
    plan = plan_with_settings(vocab, Settings(model=model), run_id="bench", language="zh", level=level)
    ranges = {(b.word_start, b.word_end) for b in plan.batches}
    shared = min(estimate_tokens(render_shared("zh", level, vocab.items[s:e])) for s, e in ranges)
    return shared + system_prompt_tokens() + tool_overhead_tokens()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to measure side by side (e.g. fd5d47b)")
    parser.add_argument("--quick", action="store_true", help="HSK 1 only")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the model the runs name (its cache minimum applies)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--min-cache-tokens", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker), args.model, args.scale, args.min_cache_tokens)))
        return
    from bench.local_scale import side_by_side

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as samples:
        files = [prefilled(f, Path(samples)) for f in ([HSK1] if args.quick else [HSK1, TOP5000])]
        rows = side_by_side(lambda label, code_root: run_tree(label, code_root, files, args.model), args.baseline)
        per_model = per_model_costs([r for r in rows if r["code"] == "this tree"], files, args.model)
    print(f"\n(d) Prompt caching, {args.model}, Tier 2 limits, one Map lane per batch\n")
    print(
        table(
            [
                "file",
                "code",
                "calls",
                "uncached input",
                "cache writes",
                "cache reads",
                "full-price input equivalents",
                "output",
                "cost USD",
                "LLM phase (s)",
                "wall / slowest call",
                "429 answers",
            ],
            [
                (
                    r["file"],
                    r["code"],
                    r["calls"],
                    r["input"],
                    r["cache_write"],
                    r["cache_read"],
                    round(full_price_equivalents(r)),
                    r["output"],
                    f"{r['cost_usd']:.4f}",
                    r["llm_phase"],
                    f"{r['wall'] / r['slowest']:.2f}",
                    r["throttled"],
                )
                for r in rows
            ],
        )
    )
    if args.baseline:
        print()
        for file in files:
            by_code = {r["code"]: r for r in rows if r["file"] == file.name}
            old, new = by_code[args.baseline], by_code["this tree"]
            ratio = full_price_equivalents(old) / full_price_equivalents(new)
            cost = old["cost_usd"] / new["cost_usd"]
            print(f"{file.name}: full-price input equivalents fall {ratio:.2f}x, cost {cost:.2f}x")
    print("\nCost per 1,000 words by model (this tree's measured tokens at each model's list prices)\n")
    print(per_model)
    print(f"\nbench.caching took {math.ceil(time.perf_counter() - started)} s")


if __name__ == "__main__":
    main()

"""Calls and system-prompt tokens: one call per word (the old design) next to one call per category batch.

Both designs run side by side, in one process, through the real anthropic + instructor path against
the same kind of fake Claude (faked at HTTP), so the figures are what the SDK sent and the fake
billed. Run from the repo root:

    python -m bench.calls_per_design [VOCAB_FILE] [--language zh] [--level HSK1]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from havachat.generation import generate_batch
from havachat.ledger import CallUsage, UsageTotals
from havachat.llm import InstructorClaude
from havachat.llm_port import LlmRequest
from havachat.models import Category, Level, VocabList
from havachat.planning import estimate_tokens, per_word_message, plan_with_settings
from havachat.prompts import system_prompt
from havachat.settings import Settings
from havachat.vocab import read_vocab_file
from tests.fakes.fake_claude import FakeClaude

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "vocab" / "zh_hsk1.csv"
Design = Callable[[InstructorClaude], list[CallUsage]]


@dataclass
class Row:
    design: str
    calls: int
    system_prompt_tokens: int
    usage: UsageTotals


def per_word(vocab: VocabList, language: str, level: Level, max_tokens: int) -> Design:
    def run(llm: InstructorClaude) -> list[CallUsage]:
        attempts: list[CallUsage] = []
        for item in vocab.items:
            user = per_word_message(item, language, level, list(Category))
            attempts += llm.generate(LlmRequest(system_prompt(), user, max_tokens)).attempts
        return attempts

    return run


def batched(vocab: VocabList, language: str, level: Level, settings: Settings) -> Design:
    def run(llm: InstructorClaude) -> list[CallUsage]:
        plan = plan_with_settings(vocab, settings, run_id="bench", language=language, level=level)
        attempts: list[CallUsage] = []
        for spec in plan.batches:
            words = vocab.items[spec.word_start : spec.word_end]
            attempts += generate_batch(
                spec,
                words,
                language=language,
                level=level,
                run_id="bench",
                llm=llm,
                max_tokens=plan.max_tokens,
            ).attempts
        return attempts

    return run


def measure(name: str, design: Design, model: str) -> Row:
    fake = FakeClaude()
    attempts = design(InstructorClaude(fake.client(max_retries=0), model=model))
    calls = len(fake.requests)
    usage = UsageTotals.total(UsageTotals.of_call([a]) for a in attempts)
    return Row(name, calls, calls * estimate_tokens(system_prompt()), usage)


def print_table(rows: list[Row]) -> None:
    header = [
        "design",
        "calls",
        "system-prompt tokens",
        "input",
        "cache write",
        "cache read",
        "output",
        "cost USD",
    ]
    lines = [
        [
            r.design,
            str(r.calls),
            f"{r.system_prompt_tokens:,}",
            f"{r.usage.input_tokens:,}",
            f"{r.usage.cache_write_tokens:,}",
            f"{r.usage.cache_read_tokens:,}",
            f"{r.usage.output_tokens:,}",
            f"{r.usage.cost_usd:.4f}",
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    for line in [header, ["-" * w for w in widths], *lines]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description="Calls per design on a fake Claude")
    parser.add_argument("file", nargs="?", default=str(DEFAULT_FILE))
    parser.add_argument("--language", default="zh")
    parser.add_argument("--level", default="HSK1")
    args = parser.parse_args()

    settings = Settings()
    vocab = read_vocab_file(args.file)
    level = Level.parse(args.level)
    old = measure("one call per word", per_word(vocab, args.language, level, settings.max_tokens), settings.model)
    new = measure("one call per category batch", batched(vocab, args.language, level, settings), settings.model)

    print(f"{Path(args.file).name}: {len(vocab.items)} words, {settings.model}, fake Claude, list prices")
    print_table([old, new])
    print(
        f"\n{old.calls / new.calls:.1f}x fewer calls, "
        f"{old.system_prompt_tokens / new.system_prompt_tokens:.1f}x fewer system-prompt tokens sent, "
        f"{old.usage.cost_usd / new.usage.cost_usd:.1f}x lower cost"
    )


if __name__ == "__main__":
    main()

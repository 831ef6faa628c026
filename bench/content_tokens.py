"""(g) Stage 2 input tokens: this tree against a baseline revision, the same learning items, one run.

Stage 1 runs once, in this tree, through the real state machine on moto against the fake Claude; its
items and the level's vocabulary (with the definitions Plan fills in) are written out. Then each tree
writes the default 3 conversations and 3 stories from them (`generate_content_with_settings`, the
Content step's call) in its own interpreter (`--baseline REV`: a git worktree, its `shared/` first on
PYTHONPATH), each against a fresh `FakeClaude` with the prompt-caching model of `tests.fakes.fake_claude`
and the model's minimum cacheable length.

Full-price input equivalents = uncached input + 1.25 x cache writes + 0.1 x cache reads.

    python -m bench.content_tokens [--baseline 0ffac6b] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.caching import DEFAULT_MODEL, full_price_equivalents
from bench.common import HSK1, TOP5000, quiet_handlers, run_in_tree, table


def learning_items(file: Path, into: Path) -> Path:
    """Stage 1's items for `file` (fake Claude, this tree) and the vocabulary Plan fills, as one JSON file."""
    from havachat.languages.dictionary import fill_from_dictionaries
    from havachat.llm import InstructorClaude
    from havachat.settings import Settings
    from havachat.vocab import read_vocab_file
    from havachat_local.runner import LocalPipeline
    from tests.fakes.fake_claude import FakeClaude

    quiet_handlers()
    settings = Settings()
    llm = InstructorClaude(FakeClaude().client(), model=settings.model)
    with LocalPipeline(llm, settings=settings, map_concurrency=64) as local:
        result = local.run_file(file, language="zh", level="HSK1", timeout_s=3600)
        items = local.read_items(str(result.run_id))
    vocab = fill_from_dictionaries(read_vocab_file(file), "zh").items
    path = into / f"{file.stem}.json"
    path.write_text(
        json.dumps(
            {
                "file": file.name,
                "items": [i.model_dump(mode="json") for i in items],
                "vocab": [v.model_dump(mode="json") for v in vocab],
            },
            ensure_ascii=False,
        )
    )
    return path


def worker(inputs: Path, model: str, min_cache_tokens: int) -> dict[str, Any]:
    """Stage 2 on the code first on sys.path, from the items in `inputs`; its figures as a dict."""
    from havachat.content.generate import generate_content_with_settings
    from havachat.llm import InstructorClaude
    from havachat.models import LearningItem, Level, VocabItem
    from havachat.settings import Settings
    from tests.fakes.fake_claude import FakeClaude
    from tests.fakes.fake_content import install

    data = json.loads(inputs.read_text())
    items = [LearningItem.model_validate(i) for i in data["items"]]
    vocab = [VocabItem.model_validate(v) for v in data["vocab"]]
    settings = Settings(model=model)
    fake = install(FakeClaude(min_cache_tokens=min_cache_tokens))
    llm = InstructorClaude(fake.client(), model=model)
    document = generate_content_with_settings(
        items, vocab, settings, run_id="bench", language="zh", level=Level.parse("HSK1"), llm=llm
    )
    u = document.summary.usage
    return {
        "file": data["file"],
        "items": len(items),
        "words": len(vocab),
        "calls": u.calls,
        "input": u.input_tokens,
        "cache_write": u.cache_write_tokens,
        "cache_read": u.cache_read_tokens,
        "output": u.output_tokens,
        "cost_usd": u.cost_usd,
        "pieces": len(document.conversations) + len(document.stories),
        "items_practised": len({i for p in [*document.conversations, *document.stories] for i in p.item_ids}),
    }


def run_tree(label: str, code_root: Path, inputs: list[Path], model: str) -> list[dict[str, Any]]:
    from havachat.prompts import min_cacheable_tokens

    model_args = ("--model", model, "--min-cache-tokens", str(min_cacheable_tokens(model)))
    return [
        {**run_in_tree(code_root, "bench.content_tokens", "--worker", str(path), *model_args), "code": label}
        for path in inputs
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to measure side by side (e.g. 0ffac6b)")
    parser.add_argument("--quick", action="store_true", help="HSK 1 only")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the model the calls name (its cache minimum applies)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--min-cache-tokens", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker), args.model, args.min_cache_tokens)))
        return
    from bench.local_scale import side_by_side

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        inputs = [learning_items(f, Path(scratch)) for f in ([HSK1] if args.quick else [HSK1, TOP5000])]
        rows = side_by_side(lambda label, code_root: run_tree(label, code_root, inputs, args.model), args.baseline)
    header = ["file", "items", "code", "calls", "uncached input", "cache writes", "cache reads"]
    header += ["full-price input equivalents", "output", "cost USD", "pieces", "items practised"]
    print(f"\n(g) Stage 2, 3 conversations + 3 stories, {args.model}\n")
    print(
        table(
            header,
            [
                (
                    r["file"],
                    r["items"],
                    r["code"],
                    r["calls"],
                    r["input"],
                    r["cache_write"],
                    r["cache_read"],
                    round(full_price_equivalents(r)),
                    r["output"],
                    f"{r['cost_usd']:.4f}",
                    r["pieces"],
                    r["items_practised"],
                )
                for r in rows
            ],
        )
    )
    if args.baseline:
        print()
        for path in inputs:
            by_code = {r["code"]: r for r in rows if r["file"] == f"{path.stem}.csv"}
            old, new = by_code[args.baseline], by_code["this tree"]
            ratio, cost = full_price_equivalents(old) / full_price_equivalents(new), old["cost_usd"] / new["cost_usd"]
            print(f"{path.stem}: Stage 2 full-price input equivalents fall {ratio:.2f}x, cost {cost:.2f}x")
    print(f"\nbench.content_tokens took {math.ceil(time.perf_counter() - started)} s")


if __name__ == "__main__":
    main()

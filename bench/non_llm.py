"""(e) The path without an LLM: validate and plan a 100,000-row file; Finalize 50,000 items on moto.

On a shared machine wall time varies with the load; CPU time is what the target is checked on.

- Validate + plan: a deterministic 100,000-row CSV (unique two-character words, pinyin, a definition,
  a part of speech) parsed by `parse_vocab` and planned by `plan_with_settings`, in a fresh
  subprocess so its peak RSS (`ru_maxrss`) is this work's alone; peak Python allocations by
  `tracemalloc` in a second pass (tracemalloc slows the code, so time comes from the first).
- Finalize: batch outputs holding 50,000 items written to moto's S3 the way GenerateBatch writes them,
  then `finalize_step` with the real adapters (S3, DynamoDB `BatchWriteItem`, EventBridge) on moto.
  moto keeps what Finalize writes in this process's memory, so its peak is an upper bound.

    python -m bench.non_llm [--rows 100000] [--items 50000]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.common import ROOT, quiet_handlers, table

ROW_LIMIT_SECONDS, ROW_LIMIT_MB = 5.0, 300.0

_PARSE_AND_PLAN = """
import json, resource, sys, time, tracemalloc
from havachat.models import Level
from havachat.planning import plan_with_settings
from havachat.settings import Settings
from havachat.vocab import VocabLimits, parse_vocab

path, rows, traced = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
data = open(path, "rb").read()
settings = Settings(max_rows=max(rows, Settings().max_rows), max_file_bytes=max(len(data), Settings().max_file_bytes))
if traced:
    tracemalloc.start()
started, cpu = time.perf_counter(), time.process_time()
vocab = parse_vocab(data, path, VocabLimits.from_settings(settings))
parsed = time.perf_counter()
plan = plan_with_settings(vocab, settings, run_id="bench", language="zh", level=Level.parse("HSK6"))
planned = time.perf_counter()
cpu = time.process_time() - cpu
peak = tracemalloc.get_traced_memory()[1] if traced else 0
print(json.dumps({
    "words": len(vocab.items), "batches": len(plan.batches), "bytes": len(data),
    "parse_s": parsed - started, "plan_s": planned - parsed, "cpu_s": cpu, "traced_peak": peak,
    "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def write_vocab_csv(path: Path, rows: int) -> None:
    """`rows` unique words: two CJK characters from the index, deterministic."""
    lines = ["word,romanization,definition,pos"]
    for i in range(rows):
        word = chr(0x4E00 + i // 400) + chr(0x4E00 + i % 400)
        lines.append(f"{word},ci{i % 5 + 1} yu{i % 4 + 1},meaning number {i},n")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_and_plan(rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"vocab_{rows}.csv"
        write_vocab_csv(path, rows)
        results = []
        for traced in ("0", "1"):
            done = subprocess.run(
                [sys.executable, "-c", _PARSE_AND_PLAN, str(path), str(rows), traced],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
                env={"PYTHONPATH": str(ROOT / "shared"), "PATH": ""},
            )
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    timed, traced_run = results
    return {**timed, "traced_peak": traced_run["traced_peak"]}


class _CountingItems:
    """Stands in for DynamoDB items: moto's DynamoDB costs ~5 ms per item in this process, not what AWS costs."""

    def __init__(self) -> None:
        self.count = 0

    def put_items(self, run_id: str, items: Any) -> int:
        self.count += sum(1 for _ in items)
        return self.count


def finalize_items(count: int, *, traced: bool) -> dict[str, Any]:
    """Plan a 5,000-word run, write batch outputs with `count` items in all, then time `finalize_step`.

    Items go to a counting sink instead of moto's DynamoDB (whose put costs are moto's, not AWS's);
    `BatchWriteItem` calls are reported as a count.
    """
    from havachat.ledger import UsageTotals
    from havachat.models import LearningItemBatch, Provenance, RunPlan, VocabList
    from havachat.pipeline.contracts import BatchOutput, BatchRecord
    from havachat.pipeline.finalize import finalize_step
    from havachat.pipeline.keys import RunKeys
    from havachat.pipeline.plan import plan_step
    from havachat.postprocess import finish_items
    from havachat_local.runner import LocalPipeline
    from tests.fakes.fake_claude import make_items

    def unavailable() -> Any:
        raise RuntimeError("Finalize makes no LLM call")

    with tempfile.TemporaryDirectory() as tmp, LocalPipeline(unavailable) as local:
        assert local.deps is not None
        store, runs, events = local.deps.store, local.deps.runs, local.deps.events
        items = _CountingItems()
        path = Path(tmp) / "bench.csv"
        write_vocab_csv(path, 5000)
        data = path.read_bytes()
        source = local.upload(data, "uploads/zh/HSK6/bench.csv")
        run_id = plan_step(source, data, owner="bench", store=store, runs=runs, settings=local.settings).run_id
        keys = RunKeys(run_id)
        plan = RunPlan.model_validate(store.get_json(keys.plan))
        words = VocabList.model_validate(store.get_json(keys.vocab)).items
        per_batch, extra = divmod(count, len(plan.batches))
        written = 0
        for index, spec in enumerate(plan.batches):
            chunk = words[spec.word_start : spec.word_end]
            raw = make_items([w.model_dump(mode="json") for w in chunk], per_batch + (1 if index < extra else 0))
            provenance = Provenance(run_id=run_id, batch_id=spec.batch_id, model=plan.model, prompt_version="bench")
            finished = finish_items(
                LearningItemBatch.model_validate({"items": raw}),
                words=chunk,
                language=plan.language,
                level=plan.level,
                category=spec.category,
                provenance=provenance,
            ).items
            output = BatchOutput(
                run_id=run_id,
                batch_id=spec.batch_id,
                category=spec.category,
                item_count=len(finished),
                usage=UsageTotals(),
            )
            record = BatchRecord(output=output, items=finished)
            store.put_json(keys.batch_output(spec.batch_id), record.model_dump(mode="json"))
            written += len(finished)
        if traced:
            tracemalloc.start()
        started, cpu = time.perf_counter(), time.process_time()
        summary = finalize_step(run_id, store, runs, items, events)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
    return {
        "items_in": written,
        "items_out": summary.items_total,
        "status": summary.status.value,
        "batches": len(plan.batches),
        "seconds": seconds,
        "cpu_s": cpu,
        "traced_peak": peak,
        "batch_writes": math.ceil(items.count / 25),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Validate + plan a large file; Finalize many items")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    args = parser.parse_args()
    quiet_handlers()
    started = time.perf_counter()
    p = parse_and_plan(args.rows)
    f = finalize_items(args.items, traced=False)
    f["traced_peak"] = finalize_items(args.items, traced=True)["traced_peak"]
    mb = 1024 * 1024
    total = p["parse_s"] + p["plan_s"]
    print("(e) The path without an LLM\n")
    print(
        table(
            ["work", "size", "wall (s)", "CPU (s)", "peak RSS (MB)", "peak Python alloc. (MB)", "target", "result"],
            [
                (
                    "validate (parse_vocab)",
                    f"{p['words']:,} rows, {p['bytes'] / mb:.1f} MB",
                    p["parse_s"],
                    "",
                    "",
                    "",
                    "",
                    "",
                ),
                ("plan (plan_with_settings)", f"{p['batches']:,} batches", p["plan_s"], "", "", "", "", ""),
                (
                    "validate + plan",
                    f"{p['words']:,} rows",
                    total,
                    p["cpu_s"],
                    p["maxrss_kb"] / 1024,
                    p["traced_peak"] / mb,
                    f"<= {ROW_LIMIT_SECONDS:.0f} s, <= {ROW_LIMIT_MB:.0f} MB",
                    "met" if p["cpu_s"] <= ROW_LIMIT_SECONDS and p["maxrss_kb"] / 1024 <= ROW_LIMIT_MB else "NOT met",
                ),
                (
                    "Finalize (finalize_step on moto)",
                    f"{f['items_in']:,} items in {f['batches']:,} batches ({f['items_out']:,} kept, {f['status']})",
                    f["seconds"],
                    f["cpu_s"],
                    "",
                    f["traced_peak"] / mb,
                    "",
                    "",
                ),
            ],
        )
    )
    print(
        f"\nFinalize's DynamoDB share is {f['batch_writes']:,} BatchWriteItem calls of 25 items (not timed: moto's "
        "DynamoDB is far slower than AWS's, at a few ms per item)."
    )
    print(f"\nbench.non_llm took {math.ceil(time.perf_counter() - started)} s")


if __name__ == "__main__":
    main()

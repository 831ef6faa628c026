"""Local overhead at scale: `havachat run` end to end on the 5,000 and 20,000-word lists, no-latency fake Claude.

    python -m bench.local_scale [--baseline REV]

Each run is a real `havachat run` subprocess (the state machine on moto, every handler, the real
anthropic + instructor path) against the fake Claude served on loopback with no modelled latency,
so the wall time is the pipeline's own overhead. Overhead per batch for both lists shows whether it
grows linearly with the number of batches. `--baseline REV` runs the same lists on that commit's
code as well (a git worktree, its `shared/` and `local/` first on PYTHONPATH), side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from bench.common import ROOT, TOP5000, VOCAB_DIR, table
from tests.fakes.fake_claude import FakeClaude

T = TypeVar("T")

LISTS = [(TOP5000, "HSK6"), (VOCAB_DIR / "zh_top20000.csv", "top20000")]


def run_once(code_root: Path, vocab: Path, level: str, out: Path) -> tuple[float, int]:
    """Wall seconds and batches of one `havachat run` with the code under `code_root`."""
    fake = FakeClaude()
    with fake.serve() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "HAVACHAT_", "AWS_"))}
        paths = [str(code_root / "shared"), str(code_root / "local"), str(code_root)]
        env.update(
            ANTHROPIC_API_KEY="bench",
            ANTHROPIC_BASE_URL=url,
            HAVACHAT_SDK_MAX_RETRIES="0",
            HAVACHAT_HOME=str(out.parent / f"{out.name}-home"),  # a fresh embedded AWS: a real run, not a reuse
            PYTHONPATH=os.pathsep.join(paths),
        )
        module = "havachat_local.cli" if (code_root / "local").is_dir() else "havachat.cli"
        command = [sys.executable, "-m", module, "run", str(vocab), "-l", "zh", "--level", level, "--out", str(out)]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=code_root, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{code_root}: havachat run {vocab.name} exited {done.returncode}:\n{done.stderr[-2000:]}")
    batches = int(json.loads((out / "run.json").read_text(encoding="utf-8"))["batch_count"])
    return seconds, batches


@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """The code of `rev` in a temporary git worktree."""
    with tempfile.TemporaryDirectory() as parent:
        path = Path(parent) / "baseline"
        add = ["git", "worktree", "add", "--detach", str(path), rev]
        subprocess.run(add, cwd=ROOT, check=True, capture_output=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


def side_by_side(measure: Callable[[str, Path], list[T]], baseline: str | None) -> list[T]:
    """`measure(label, code_root)` on `baseline`'s code (when given), then on this tree's: the rows of both."""
    rows = []
    if baseline:
        with worktree(baseline) as path:
            rows = measure(baseline, path)
    return rows + measure("this tree", ROOT)


def measure(label: str, code_root: Path) -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory() as outs:
        for vocab, level in LISTS:
            seconds, batches = run_once(code_root, vocab, level, Path(outs) / vocab.stem)
            rows.append([label, vocab.name, f"{batches}", f"{seconds:.1f}", f"{1000 * seconds / batches:.0f}"])
            print(f"{label} {vocab.name}: {batches} batches in {seconds:.1f} s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to measure side by side (e.g. the last release)")
    args = parser.parse_args()
    rows = side_by_side(measure, args.baseline)
    print()
    print(table(["code", "list", "batches", "wall (s)", "ms per batch"], rows))


if __name__ == "__main__":
    main()

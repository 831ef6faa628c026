"""Every benchmark, one after another, each in its own interpreter (`make bench`); prints their tables.

    python -m bench.run_all [--quick]

`--quick` runs the designs and the rate limit on HSK 1 only and fewer cold-start runs.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time

from bench.common import ROOT

CACHING_BASELINE = "fd5d47b"  # the last revision with only the system prompt cached
CONTENT_BASELINE = "0ffac6b"  # Stage 2 before its calls carried only what their pieces use


def main() -> None:
    parser = argparse.ArgumentParser(description="Run every benchmark")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    quick = ["--quick"] if args.quick else []
    runs = [
        ["bench.designs", *quick],
        ["bench.rate_limit", *quick],
        ["bench.cold_start", "--runs", "3" if args.quick else "7"],
        ["bench.non_llm", *(["--rows", "20000", "--items", "5000"] if args.quick else [])],
        ["bench.dictionary_fill"],
        ["bench.caching", *(quick or ["--baseline", CACHING_BASELINE])],
        ["bench.content_tokens", *(quick or ["--baseline", CONTENT_BASELINE])],
        ["bench.message_batches", *quick],
        *([] if args.quick else [["bench.local_scale"]]),
    ]
    started = time.perf_counter()
    for module, *options in runs:
        print(f"\n## {module}\n", flush=True)
        done = subprocess.run([sys.executable, "-m", module, *options], cwd=ROOT, check=False)
        if done.returncode != 0:
            sys.exit(done.returncode)
    print(f"\nAll benchmarks took {math.ceil(time.perf_counter() - started)} s")


if __name__ == "__main__":
    main()

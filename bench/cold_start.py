"""(d) Cold start: each Lambda handler imported in a fresh interpreter, next to a naive import of the whole stack.

Every figure is the best of `--runs` fresh processes (`python -c ...`), measured inside the process
around the import (interpreter start-up, ~20 ms, is the same for all and left out). The handler
files are loaded the way the Lambda runtime loads them, with `shared/` (the havachat layer) on
`PYTHONPATH` and the environment a deployed function has (`AWS_LAMBDA_FUNCTION_NAME`, `HAVACHAT_*`).

- import: executing the handler module (its imports, Logger/Tracer/Metrics, decorators);
- + clients: then building what the first invocation builds (the boto3 session and clients of
  `container_deps()`, and for an LLM handler the anthropic + instructor client of `make_llm`);
- naive: `import anthropic, instructor, boto3, aws_lambda_powertools` at the top of a handler, and
  with its Logger/Tracer/Metrics and the same clients built at import.

    python -m bench.cold_start [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, table
from havachat_local.template import TemplateInfo, load_template

_HANDLER = """
import importlib.util, json, sys, time
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["handler"] = module
spec.loader.exec_module(module)
imported = time.perf_counter()
from havachat.aws.wiring import container_deps
deps = container_deps()
llm = "anthropic" in sys.modules
if llm:
    from havachat.llm import make_llm
    make_llm(deps.settings, api_key="bench-key")
ready = time.perf_counter()
print(json.dumps({"import": imported - started, "ready": ready - started, "llm": llm}))
"""

_NAIVE = """
import json, time
started = time.perf_counter()
import anthropic, instructor, boto3, aws_lambda_powertools
imported = time.perf_counter()
from aws_lambda_powertools import Logger, Metrics, Tracer
logger, tracer, metrics = Logger(), Tracer(), Metrics()
session = boto3.session.Session()
s3, events, dynamodb = session.client("s3"), session.client("events"), session.resource("dynamodb")
claude = instructor.from_anthropic(anthropic.Anthropic(api_key="bench-key"))
ready = time.perf_counter()
print(json.dumps({"import": imported - started, "ready": ready - started, "llm": True}))
"""


@dataclass(frozen=True)
class Timing:
    import_ms: float
    ready_ms: float
    llm: bool


def lambda_env(function: str) -> dict[str, str]:
    """The environment of a deployed function, minus credentials (nothing here calls AWS)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "shared"),
        "PYTHONDONTWRITEBYTECODE": "",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_SERVICE_NAME": "havachat",
        "POWERTOOLS_METRICS_NAMESPACE": "Havachat",
        "HAVACHAT_DATA_BUCKET": "bench-bucket",
        "HAVACHAT_RUNS_TABLE": "bench-runs",
        "HAVACHAT_ITEMS_TABLE": "bench-items",
        "HAVACHAT_CONTENT_TABLE": "bench-content",
        "HAVACHAT_IDEMPOTENCY_TABLE": "bench-idempotency",
        "HAVACHAT_EVENT_BUS_NAME": "bench-bus",
    }


def best_of(args: list[str], env: dict[str, str], runs: int) -> Timing:
    timings = []
    for _ in range(runs):
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:3])} failed:\n{done.stderr[-2000:]}")
        timings.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return Timing(
        import_ms=min(t["import"] for t in timings) * 1000,
        ready_ms=min(t["ready"] for t in timings) * 1000,
        llm=bool(timings[0]["llm"]),
    )


def import_self_times(code: str, env: dict[str, str]) -> dict[str, float]:
    """`python -X importtime -c code`: self time (ms) summed by top-level package."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env, check=True
    )
    by_package: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        by_package[name.split(".")[0]] += int(own) / 1000
    return by_package


def _load(handler_file: Path) -> str:
    return (
        f"import importlib.util as u; s = u.spec_from_file_location('h', {str(handler_file)!r}); "
        "m = u.module_from_spec(s); s.loader.exec_module(m)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Cold start of each handler in a fresh interpreter")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    info = TemplateInfo(ROOT, load_template(ROOT / "template.yaml"))
    functions = info.functions()
    naive = best_of([sys.executable, "-c", _NAIVE], lambda_env("Naive"), args.runs)
    rows = []
    for name, function in functions.items():
        timing = best_of([sys.executable, "-c", _HANDLER, str(function.handler_file)], lambda_env(name), args.runs)
        target = 1.0 if timing.llm else 0.30
        ratio = timing.import_ms / naive.import_ms
        rows.append(
            (
                name,
                "yes" if timing.llm else "no",
                timing.import_ms,
                timing.ready_ms,
                f"{ratio:.0%}",
                f"<= {target:.0%}",
                "met" if ratio <= target else "NOT met",
            )
        )
    naive_row = ("naive: anthropic + instructor + boto3 + Powertools", "yes", naive.import_ms, naive.ready_ms, "100%")
    print(f"(d) Cold start, best of {args.runs} fresh processes (ms)\n")
    print(
        table(
            ["handler", "LLM stack", "import", "import + clients", "import vs naive import", "target", "result"],
            [*rows, (*naive_row, "", "")],
        )
    )
    light = next(f for name, f in functions.items() if rows[list(functions).index(name)][1] == "no")
    heavy = functions.get("GenerateBatchFunction", light)
    profiles = {
        light.logical_id: import_self_times(_load(light.handler_file), lambda_env(light.logical_id)),
        heavy.logical_id: import_self_times(_load(heavy.handler_file), lambda_env(heavy.logical_id)),
        "naive": import_self_times(_NAIVE.split("imported =")[0], lambda_env("Naive")),
    }
    packages = sorted({p for times in profiles.values() for p in times}, key=lambda p: -profiles[heavy.logical_id][p])
    print("\nWhere the import time goes (python -X importtime: self time by top-level package, ms, one run)\n")
    print(
        table(
            ["package", *profiles],
            [(p, *(times.get(p, 0.0) for times in profiles.values())) for p in packages[:10]],
        )
    )


if __name__ == "__main__":
    main()

"""(d) Cold start: each Lambda handler imported in a fresh interpreter, next to a naive import of the whole stack.

Every figure is the best of `--runs` fresh processes (`python -c ...`), measured inside the process
around the import (interpreter start-up, ~20 ms, is the same for all and left out). The processes
run in rounds, one of each (naive and every handler) per round, so a change in the machine's load
falls on all of them alike; and the import's CPU time is measured beside its wall time: on a shared
machine the wall time swings with the load, the CPU time much less, so the verdict uses CPU time. The handler
files are loaded the way the Lambda runtime loads them, with `shared/` (the havachat layer) on
`PYTHONPATH` and the environment a deployed function has (`AWS_LAMBDA_FUNCTION_NAME`, `HAVACHAT_*`).

- import: executing the handler module (its imports, Logger/Tracer/Metrics, decorators);
- + clients: then building what the first invocation builds (the boto3 session and clients of
  `container_deps()`, and for an LLM handler the anthropic + instructor client of `make_llm`);
- naive: `import anthropic, instructor, boto3, aws_lambda_powertools` at the top of a handler, and
  with its Logger/Tracer/Metrics and the same clients built at import.

`--deps-bytecode` times the naive import and GenerateBatch's with the third-party packages from source, as a
layer built without bytecode runs on Lambda's read-only /opt, and as the deps layer ships them (bytecode for the
packages a cold start imports), beside all with their bytecode.

`--instructions` adds a figure the machine's load cannot move: the instructions each import executes
(valgrind's callgrind, one process each, the interpreter's own start-up subtracted). CPU times on a
shared 2-core machine moved the LLM handlers' ratio by 0.1 between runs; instruction counts repeat.

    python -m bench.cold_start [--runs 7] [--instructions] [--deps-bytecode]   # --instructions: valgrind, +4 min
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, table
from havachat_local.template import TemplateInfo, load_template
from scripts.check_build import cold_start_packages

# Issue #17: an LLM handler imports in at most 1.1x the naive import, Plan and Finalize in at most 0.3x.
LLM_TARGET, LIGHT_TARGET = 1.10, 0.30
WITH_SUBSEGMENTS = "GenerateBatchFunction, TracingSubsegments=true"
FROM_SOURCE = "havachat without .pyc (a layer built without them, on the read-only /opt)"
IDEMPOTENT = ("PlanFunction", "FinalizeFunction")  # the template gives IdempotencyTable to these alone

_HANDLER = """
import importlib.util, json, sys, time
started, started_cpu = time.perf_counter(), time.process_time()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["handler"] = module
spec.loader.exec_module(module)
imported, imported_cpu = time.perf_counter(), time.process_time()
from havachat.aws.wiring import container_deps
deps = container_deps()
llm = "anthropic" in sys.modules
if llm:
    from havachat.llm import make_llm
    make_llm(deps.settings, api_key="bench-key")
ready = time.perf_counter()
cpu = imported_cpu - started_cpu
print(json.dumps({"import": imported - started, "cpu": cpu, "ready": ready - started, "llm": llm}))
"""

_NAIVE = """
import json, time
started, started_cpu = time.perf_counter(), time.process_time()
import anthropic, instructor, boto3, aws_lambda_powertools
imported, imported_cpu = time.perf_counter(), time.process_time()
from aws_lambda_powertools import Logger, Metrics, Tracer
logger, tracer, metrics = Logger(), Tracer(), Metrics()
session = boto3.session.Session()
s3, events, dynamodb = session.client("s3"), session.client("events"), session.resource("dynamodb")
claude = instructor.from_anthropic(anthropic.Anthropic(api_key="bench-key"))
ready = time.perf_counter()
cpu = imported_cpu - started_cpu
print(json.dumps({"import": imported - started, "cpu": cpu, "ready": ready - started, "llm": True}))
"""


@dataclass(frozen=True)
class Timing:
    import_ms: float
    import_cpu_ms: float
    ready_ms: float
    llm: bool


def lambda_env(function: str, *, subsegments: bool = False) -> dict[str, str]:
    """The environment of a deployed function, minus credentials (nothing here calls AWS); X-Ray subsegments
    off, as the template's `TracingSubsegments` default leaves them, unless `subsegments`."""
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
        "HAVACHAT_EVENT_BUS_NAME": "bench-bus",
        "POWERTOOLS_TRACE_DISABLED": "false" if subsegments else "true",
        **({"HAVACHAT_IDEMPOTENCY_TABLE": "bench-idempotency"} if function in IDEMPOTENT else {}),
    }


def best_of(commands: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict[str, Timing]:
    """Each command's best of `runs` fresh processes, run in rounds of one process per command."""
    timings: dict[str, list[dict[str, float]]] = defaultdict(list)
    for _ in range(runs):
        for name, (args, env) in commands.items():
            done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(args[:3])} failed:\n{done.stderr[-2000:]}")
            timings[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        name: Timing(
            import_ms=min(t["import"] for t in found) * 1000,
            import_cpu_ms=min(t["cpu"] for t in found) * 1000,
            ready_ms=min(t["ready"] for t in found) * 1000,
            llm=bool(found[0]["llm"]),
        )
        for name, found in timings.items()
    }


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


def instructions(code: str, env: dict[str, str]) -> int:
    """Instructions a fresh `python -c code` executes, counted by callgrind (no cache simulation)."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--cache-sim=no",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def instruction_rows(functions: dict[str, Path]) -> list[tuple[str, int, str]]:
    """Each handler's import and the naive import in instructions (start-up subtracted), and the ratio."""
    # The .pyc of a module edited since its last import, written first: compiling it is no part of the count.
    compileall.compile_dir(ROOT / "shared", quiet=1)
    for file in functions.values():
        compileall.compile_file(file, quiet=1)
    programs = {
        "start-up": ("pass", lambda_env("Naive")),
        "naive": (_NAIVE.split("imported, imported_cpu =")[0], lambda_env("Naive")),
        **{name: (_load(file), lambda_env(name)) for name, file in functions.items()},
    }
    if "GenerateBatchFunction" in functions:
        programs[WITH_SUBSEGMENTS] = (
            _load(functions["GenerateBatchFunction"]),
            lambda_env("GenerateBatchFunction", subsegments=True),
        )
    with tempfile.TemporaryDirectory() as bare, ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        # havachat as a layer without bytecode runs on Lambda's read-only /opt: compiled at every cold start
        shutil.copytree(
            ROOT / "shared" / "havachat", Path(bare) / "havachat", ignore=shutil.ignore_patterns("__pycache__")
        )
        for name in functions.keys() & {"PlanFunction", "GenerateBatchFunction"}:
            no_bytecode = {**lambda_env(name), "PYTHONPATH": bare, "PYTHONDONTWRITEBYTECODE": "1"}
            programs[f"{name}, {FROM_SOURCE}"] = (_load(functions[name]), no_bytecode)
        counts = dict(zip(programs, pool.map(lambda program: instructions(*program), programs.values()), strict=True))
    start_up = counts.pop("start-up")
    naive = counts["naive"] - start_up
    return [(name, count - start_up, f"{(count - start_up) / naive:.1%}") for name, count in counts.items()]


def deps_bytecode_rows(generate_batch: Path, runs: int) -> list[tuple[object, ...]]:
    """The naive import and GenerateBatch's (CPU ms, best of `runs`) with the third-party packages: as pip installs
    them (all with bytecode); as the deps layer ships them (bytecode for `layers/deps/Makefile`'s COLD_START only);
    and from source, as the layer was before, compiled at every cold start on Lambda's read-only /opt (copies
    without `__pycache__`, `PYTHONDONTWRITEBYTECODE`; the standard library keeps its own, as the runtime's does)."""
    site_packages = Path(sysconfig.get_paths()["purelib"])
    with tempfile.TemporaryDirectory() as source, tempfile.TemporaryDirectory() as shipped:
        no_bytecode = shutil.ignore_patterns("__pycache__")
        shutil.copytree(site_packages, source, dirs_exist_ok=True, symlinks=True, ignore=no_bytecode)
        shutil.copytree(source, shipped, dirs_exist_ok=True, symlinks=True)
        for name in cold_start_packages():
            target = Path(shipped) / name
            if target.is_file():
                compileall.compile_file(target, quiet=1)
            else:
                compileall.compile_dir(target, quiet=1)
        layouts = {"pip": site_packages, "layer": Path(shipped), "source": Path(source)}
        commands = {}
        for label, packages in layouts.items():
            path = os.pathsep.join([str(ROOT / "shared"), str(packages)])
            for name, args in (("naive", [_NAIVE]), ("GenerateBatchFunction", [_HANDLER, str(generate_batch)])):
                env = {**lambda_env(name), "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
                commands[f"{name} {label}"] = ([sys.executable, "-S", "-c", *args], env)
        timings = best_of(commands, runs)
    rows: list[tuple[object, ...]] = []
    for name in ("naive", "GenerateBatchFunction"):
        pip, layer, source_only = (timings[f"{name} {label}"].import_cpu_ms for label in layouts)
        rows.append((name, pip, layer, source_only, f"{layer / pip:.2f}x", f"{source_only / pip:.2f}x"))
    return rows


def _load(handler_file: Path) -> str:
    return (
        f"import importlib.util as u; s = u.spec_from_file_location('h', {str(handler_file)!r}); "
        "m = u.module_from_spec(s); s.loader.exec_module(m)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Cold start of each handler in a fresh interpreter")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--instructions", action="store_true", help="also count instructions with valgrind")
    parser.add_argument("--deps-bytecode", action="store_true", help="also time the imports with the deps from source")
    args = parser.parse_args()
    info = TemplateInfo(ROOT, load_template(ROOT / "template.yaml"))
    functions = info.functions()
    commands = {"naive": ([sys.executable, "-c", _NAIVE], lambda_env("Naive"))}
    for name, function in functions.items():
        commands[name] = ([sys.executable, "-c", _HANDLER, str(function.handler_file)], lambda_env(name))
    if "GenerateBatchFunction" in functions:  # the price of TracingSubsegments=true
        commands[WITH_SUBSEGMENTS] = (
            [sys.executable, "-c", _HANDLER, str(functions["GenerateBatchFunction"].handler_file)],
            lambda_env("GenerateBatchFunction", subsegments=True),
        )
    timings = best_of(commands, args.runs)
    naive = timings.pop("naive")
    rows = []
    for name, timing in timings.items():
        target = LLM_TARGET if timing.llm else LIGHT_TARGET
        ratio = timing.import_cpu_ms / naive.import_cpu_ms
        rows.append(
            (
                name,
                "yes" if timing.llm else "no",
                timing.import_ms,
                timing.import_cpu_ms,
                timing.ready_ms,
                f"{timing.import_ms / naive.import_ms:.0%}",
                f"{ratio:.0%}",
                f"<= {target:.0%}",
                "met" if ratio <= target else "NOT met",
            )
        )
    naive_row = (
        "naive: anthropic + instructor + boto3 + Powertools",
        "yes",
        naive.import_ms,
        naive.import_cpu_ms,
        naive.ready_ms,
        "100%",
        "100%",
    )
    print(f"(d) Cold start, best of {args.runs} fresh processes each, in rounds (ms)\n")
    columns = ["handler", "LLM stack", "import", "import CPU", "import + clients", "vs naive (wall)"]
    print(table([*columns, "vs naive (CPU)", "target", "result"], [*rows, (*naive_row, "", "")]))
    light = next(f for name, f in functions.items() if timings[name].llm is False)
    heavy = functions.get("GenerateBatchFunction", light)
    profiles = {
        light.logical_id: import_self_times(_load(light.handler_file), lambda_env(light.logical_id)),
        heavy.logical_id: import_self_times(_load(heavy.handler_file), lambda_env(heavy.logical_id)),
        "naive": import_self_times(_NAIVE.split("imported, imported_cpu =")[0], lambda_env("Naive")),
    }
    packages = sorted({p for times in profiles.values() for p in times}, key=lambda p: -profiles[heavy.logical_id][p])
    print("\nWhere the import time goes (python -X importtime: self time by top-level package, ms, one run)\n")
    print(
        table(
            ["package", *profiles],
            [(p, *(times.get(p, 0.0) for times in profiles.values())) for p in packages[:10]],
        )
    )
    if args.instructions:
        files = {name: function.handler_file for name, function in functions.items()}
        print("\nImport in instructions (callgrind, start-up subtracted; naive = 100%)\n")
        print(table(["import", "instructions", "vs naive"], instruction_rows(files)))
    if args.deps_bytecode and "GenerateBatchFunction" in functions:
        rows = deps_bytecode_rows(functions["GenerateBatchFunction"].handler_file, args.runs)
        print("\nThird-party packages with and without their bytecode (import CPU, ms, best of each)\n")
        header = ["import", "all with .pyc (pip)", "as the deps layer ships them", "from source (the layer before)"]
        print(table([*header, "layer vs pip", "source vs pip"], rows))


if __name__ == "__main__":
    main()

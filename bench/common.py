"""What the benchmarks share: sample paths, quiet handlers, usage totals from the fake, markdown tables."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.fake_anthropic import CallRecord
from havachat.ledger import CallUsage

ROOT = Path(__file__).resolve().parents[1]
VOCAB_DIR = ROOT.parent / "shared" / "data" / "vocab"
HSK1 = VOCAB_DIR / "zh_hsk1.csv"
TOP5000 = VOCAB_DIR / "zh_top5000.csv"


def run_in_tree(code_root: Path, module: str, *args: str) -> dict[str, Any]:
    """`python -m module args` on `code_root`'s pipeline code (its `shared/` and `local/` first on the path, this
    tree's bench and fakes after), run where it finds its template; the JSON object it prints last."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "HAVACHAT_", "AWS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(code_root / "shared"), str(code_root / "local"), str(ROOT)])
    # -P: not the cwd first on sys.path; the cwd is where LocalPipeline finds the template, ASL and handlers
    command = [sys.executable, "-P", "-m", module, *args]
    done = subprocess.run(command, env=env, cwd=code_root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} on {code_root}: exited {done.returncode}\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def quiet_handlers() -> None:
    """Keep the handlers' INFO logs and EMF metrics off stdout (set before the handlers are imported)."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    logging.getLogger("moto").setLevel(logging.ERROR)  # "ToleratedFailurePercentage ... no effect" per run


@dataclass(frozen=True)
class Usage:
    """What the fake answered and billed for a run: calls, tokens by kind and list-price cost."""

    calls: int
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost_usd: float

    @property
    def all_input_tokens(self) -> int:
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens

    @classmethod
    def of(cls, calls: Iterable[CallRecord], model: str) -> Usage:
        usages = [
            CallUsage(
                model=model,
                input_tokens=c.usage["input_tokens"],
                output_tokens=c.usage["output_tokens"],
                cache_write_tokens=c.usage["cache_creation_input_tokens"],
                cache_read_tokens=c.usage["cache_read_input_tokens"],
            )
            for c in calls
        ]
        return cls(
            calls=len(usages),
            input_tokens=sum(u.input_tokens for u in usages),
            output_tokens=sum(u.output_tokens for u in usages),
            cache_write_tokens=sum(u.cache_write_tokens for u in usages),
            cache_read_tokens=sum(u.cache_read_tokens for u in usages),
            cost_usd=sum(u.cost_usd for u in usages),
        )


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table; numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [all(_is_number(row[i]) for row in cells) and bool(cells) for i in range(len(header))]
    rule = ["---:" if n else "---" for n in numeric]
    lines = [header, rule, *cells]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _is_number(text: str) -> bool:
    stripped = text.replace(",", "").replace(".", "").replace("x", "").replace("%", "").strip()
    return stripped.lstrip("-").isdigit()

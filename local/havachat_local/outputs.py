"""A local run's output files: kept per run under `HAVACHAT_HOME/runs/<run_id>/`, the latest copied to `--out`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from havachat.content.models import ContentDocument
from havachat.models import LearningItem, VocabList
from havachat.pipeline.contracts import RunRecord, RunSummary
from havachat_local.report import write_report
from havachat_local.state import RUNS_DIR, LocalState, write_atomically

RUNS_TABLE = "havachat-local-RunsTable"  # the runner's name for the template's RunsTable
ITEMS, SUMMARY, VOCAB, LOG, REPORT, CONTENT = (
    "items.jsonl",
    "run.json",
    "vocab.json",
    "lambda.log",
    "report.html",
    "content.json",
)
OUTPUT_FILES = (ITEMS, SUMMARY, VOCAB, LOG, REPORT, CONTENT)


class OutTaken(Exception):
    """`--out` cannot take the run's outputs; the message says why in one line."""


def check_out(out: Path, state: LocalState, force: bool) -> None:
    """Refuse an `--out` that is a file, or that holds outputs of a run this HAVACHAT_HOME does not keep
    (unless `force`): replacing those would destroy them. Outputs of a kept run are only a copy."""
    if out.exists() and not out.is_dir():
        raise OutTaken(f"--out {out} is a file: name a directory")
    summary = out / SUMMARY
    if force or not summary.is_file():
        return
    try:
        run_id = str(json.loads(summary.read_text(encoding="utf-8"))["run_id"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        run_id = ""
    if not run_id or not (state.run_dir(run_id) / SUMMARY).is_file():
        which = f"run {run_id}" if run_id else "a run"
        raise OutTaken(
            f"--out {out} holds outputs of {which} that {state.home} does not keep: "
            "choose another --out, or add --force to replace them"
        )


def write_run(
    run_dir: Path,
    summary: RunSummary,
    items: Sequence[LearningItem],
    *,
    wall_seconds: float,
    vocab: VocabList | None = None,
    content: ContentDocument | None = None,
) -> None:
    """The run's items, record (with the local wall time), vocab, content and report in `run_dir`."""
    write_atomically(run_dir / ITEMS, "".join(i.model_dump_json() + "\n" for i in items).encode())
    if vocab is not None:
        write_atomically(run_dir / VOCAB, vocab.model_dump_json().encode())  # for `havachat content`
    record = {**summary.model_dump(mode="json"), "wall_seconds": round(wall_seconds, 2)}
    write_atomically(run_dir / SUMMARY, (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode())
    if content is not None:
        write_atomically(run_dir / CONTENT, (content.model_dump_json(indent=2) + "\n").encode())
    write_report(run_dir, summary, items)


def copy_to_out(run_dir: Path, out: Path) -> None:
    """`out` holds the run's outputs, and none of another run's (a stale content.json is removed)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:
        source, target = run_dir / name, out / name
        if source.is_file():
            shutil.copyfile(source, target)
        else:
            target.unlink(missing_ok=True)


def read_summary(run_dir: Path) -> tuple[RunSummary, float]:
    """A kept run's summary and its wall time."""
    data: dict[str, Any] = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
    wall_seconds = float(data.pop("wall_seconds", 0.0))
    return RunSummary.model_validate(data), wall_seconds


def run_records(state: LocalState) -> list[RunRecord]:
    """Every run HAVACHAT_HOME knows, oldest first (read from the saved runs table, without moto)."""
    records = [RunRecord.model_validate(row) for row in state.rows(RUNS_TABLE)]
    return sorted(records, key=lambda record: record.created_at)


class UnknownRun(Exception):
    """No run, or more than one, matches the id given; the message says which."""


def find_run(state: LocalState, wanted: str) -> RunRecord:
    """The run with this id, or the only one whose id starts with it."""
    records = run_records(state)
    exact = [record for record in records if record.run_id == wanted]
    matches = exact or [record for record in records if record.run_id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownRun(f"no run {wanted!r} in {state.home}: `havachat runs` lists them")
    listed = ", ".join(record.run_id for record in matches[:5])
    raise UnknownRun(f"{wanted!r} names {len(matches)} runs ({listed}): give more of the id")


def runs_dir(state: LocalState) -> Path:
    return state.home / RUNS_DIR

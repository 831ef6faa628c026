"""Export learning items to the formats flashcard and spreadsheet users expect."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable
from enum import StrEnum

from havachat.models import LearningItem

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    ANKI = "anki"
    JSONL = "jsonl"


CSV_COLUMNS = (
    "id",
    "language",
    "category",
    "level",
    "title",
    "explanation",
    "examples",
    "source_words",
    "run_id",
    "model",
    "prompt_version",
)


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formula injection: a cell starting with = + - @ is prefixed with a quote."""
    return f"'{value}" if value.startswith(_FORMULA_PREFIXES) else value


def _example_lines(item: LearningItem) -> list[str]:
    return [" / ".join(part for part in (ex.text, ex.romanization, ex.translation) if part) for ex in item.examples]


def to_csv(items: Iterable[LearningItem]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        row = (
            item.id,
            item.language,
            item.category.value,
            item.level_min if item.level_min == item.level_max else f"{item.level_min}-{item.level_max}",
            item.title,
            item.explanation,
            "\n".join(_example_lines(item)),
            "; ".join(item.source_words),
            item.provenance.run_id,
            item.provenance.model,
            item.provenance.prompt_version,
        )
        writer.writerow([safe_cell(str(cell)) for cell in row])
    return out.getvalue()


def to_anki(items: Iterable[LearningItem]) -> str:
    """Anki's plain-text import: front, back (HTML), tags; the header lines tell Anki how to read it."""
    lines = ["#separator:tab", "#html:true", "#tags column:3"]
    for item in items:
        front = html.escape(item.title)
        examples = "<br>".join(html.escape(line) for line in _example_lines(item))
        back = f"{html.escape(item.explanation)}<br><br>{examples}"
        tags = " ".join((f"havachat::{item.language}", f"havachat::{item.category.value}", f"level::{item.level_min}"))
        lines.append("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in (front, back, tags)))
    return "\n".join(lines) + "\n"


def to_jsonl(items: Iterable[LearningItem]) -> str:
    return "".join(item.model_dump_json() + "\n" for item in items)


EXPORTERS = {ExportFormat.CSV: to_csv, ExportFormat.ANKI: to_anki, ExportFormat.JSONL: to_jsonl}

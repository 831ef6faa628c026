"""Export learning items to the formats flashcard and spreadsheet users expect."""

from __future__ import annotations

import csv
import hashlib
import html
import io
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path

import genanki

from havachat.models import Category, LearningItem, LevelSystem

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    ANKI = "anki"
    APKG = "apkg"
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


# -- Anki deck (.apkg) -------------------------------------------------------------------------------

EXAMPLES_ON_A_CARD = 3  # GeneratedItem allows 2 or 3
_APKG_FIELDS = [
    "Title",
    "Explanation",
    *(f"{part}{n}" for n in range(1, EXAMPLES_ON_A_CARD + 1) for part in ("Example", "Romanization", "Translation")),
    "Words",
    "Level",
    "ItemId",
]
_APKG_CSS = """.card { font-family: sans-serif; font-size: 20px; text-align: left; color: #1d232a; background: #fff; }
.category { font-size: 13px; color: #5b6773; text-transform: uppercase; }
.title { font-size: 24px; font-weight: 600; }
.example { font-size: 26px; } .romanization { color: #0b5cad; } .translation { color: #5b6773; font-size: 18px; }
.words { font-size: 14px; color: #5b6773; margin-top: 1em; }
"""


def _stable_id(name: str) -> int:
    """An Anki model or deck id derived from its name, so a re-export updates the same deck and note types."""
    return (1 << 30) + int(hashlib.sha256(name.encode()).hexdigest()[:12], 16) % (1 << 30)


def _example_html(n: int) -> str:
    return (
        f"{{{{#Example{n}}}}}<li><div class=example>{{{{Example{n}}}}}</div>"
        f"{{{{#Romanization{n}}}}}<div class=romanization>{{{{Romanization{n}}}}}</div>{{{{/Romanization{n}}}}}"
        f"<div class=translation>{{{{Translation{n}}}}}</div></li>{{{{/Example{n}}}}}"
    )


def anki_model(category: Category) -> genanki.Model:
    """The note type of a category: the feature on the front; the explanation and the examples, each with
    its romanization and translation, and the words on the back."""
    name = f"havachat {category.value}"
    front = f"<div class=category>{category.value.replace('_', ' ')}</div><div class=title>{{{{Title}}}}</div>"
    examples = "".join(_example_html(n) for n in range(1, EXAMPLES_ON_A_CARD + 1))
    back = (
        "{{FrontSide}}<hr id=answer><div class=explanation>{{Explanation}}</div>"
        f"<ol>{examples}</ol><div class=words>{{{{Words}}}} · {{{{Level}}}}</div>"
    )
    return genanki.Model(
        _stable_id(name),
        name,
        fields=[{"name": field} for field in _APKG_FIELDS],
        templates=[{"name": "Item", "qfmt": front, "afmt": back}],
        css=_APKG_CSS,
    )


def _note_fields(item: LearningItem) -> list[str]:
    examples: list[str] = []
    for n in range(EXAMPLES_ON_A_CARD):
        example = item.examples[n] if n < len(item.examples) else None
        examples += [example.text, example.romanization or "", example.translation] if example else ["", "", ""]
    fields = [item.title, item.explanation, *examples, " · ".join(item.source_words), _level(item), item.id]
    return [html.escape(field) for field in fields]


def deck_name(items: Sequence[LearningItem]) -> str:
    """`havachat::<language>::<level>` of the items (the first item's; a run has one language and level)."""
    if not items:
        return "havachat"
    return f"havachat::{items[0].language}::{_level(items[0])}"


def _level(item: LearningItem) -> str:
    """`HSK 1`, `CEFR A1-A2`; a custom level as given."""
    levels = item.level_min if item.level_min == item.level_max else f"{item.level_min}-{item.level_max}"
    return levels if item.level_system is LevelSystem.CUSTOM else f"{item.level_system.value} {levels}"


def write_apkg(items: Sequence[LearningItem], path: Path) -> Path:
    """An Anki package: one deck, one note type per category, one note (and card) per item; a note's guid is
    its item id, so importing a later export updates the notes instead of adding copies."""
    name = deck_name(items)
    deck = genanki.Deck(_stable_id(name), name)
    models = {category: anki_model(category) for category in {item.category for item in items}}
    for item in items:
        tags = [f"havachat::{item.language}", f"havachat::{item.category.value}", f"level::{_level(item)}"]
        deck.add_note(
            genanki.Note(
                model=models[item.category],
                fields=_note_fields(item),
                tags=[tag.replace(" ", "_") for tag in tags],
                guid=genanki.guid_for(item.id),
            )
        )
    genanki.Package(deck).write_to_file(str(path))
    return path

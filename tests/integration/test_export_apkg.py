"""`havachat export RUN_DIR --format apkg`: the Anki package read back as Anki reads it (zip, collection.anki2)."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from havachat.models import Category, Example, LearningItem, Provenance
from havachat_local.cli import ExitCode, app

HOSTILE = "<img src=x onerror=alert(1)>"


def _item(category: Category, title: str, examples: int) -> LearningItem:
    return LearningItem(
        id=f"zh-{category.value}-{title}",
        language="zh",
        category=category,
        level_system="HSK",
        level_min="1",
        level_max="1",
        title=title,
        explanation=f"Why {HOSTILE}",
        examples=[
            Example(text="你好", romanization="nǐ hǎo", translation="hello"),
            Example(text="谢谢", romanization="xièxie", translation="thanks"),
            Example(text="再见", romanization="zàijiàn", translation="goodbye"),
        ][:examples],
        source_words=["你好", "谢谢"],
        provenance=Provenance(run_id="r", batch_id=f"{category.value}-0000", model="m", prompt_version="p"),
    )


def _export(run_dir: Path, *args: str) -> Path:
    done = CliRunner().invoke(app, ["export", str(run_dir), "--format", "apkg", *args])
    assert done.exit_code == ExitCode.OK, done.output
    return Path(args[-1]) if args else run_dir / "items.apkg"


def _collection(package: Path, into: Path) -> tuple[dict[str, Any], dict[str, Any], list[tuple[Any, ...]]]:
    """The package's note types, decks and notes (note type id, guid, tags, fields)."""
    with zipfile.ZipFile(package) as archive:
        archive.extract("collection.anki2", into)
    with sqlite3.connect(into / "collection.anki2") as db:
        models_json, decks_json = db.execute("SELECT models, decks FROM col").fetchone()
        notes = db.execute("SELECT mid, guid, tags, flds FROM notes ORDER BY sfld").fetchall()
    return json.loads(models_json), json.loads(decks_json), notes


def test_apkg_has_a_note_type_per_category_and_each_example_with_its_romanization_and_translation(
    tmp_path: Path,
) -> None:
    # Given a run's items in two categories, with two and three examples
    items = [_item(Category.PRONUNCIATION, "A tones", 3), _item(Category.IDIOM, "B idiom", 2)]
    items.append(_item(Category.PRONUNCIATION, HOSTILE, 2))
    (tmp_path / "items.jsonl").write_text("".join(i.model_dump_json() + "\n" for i in items), encoding="utf-8")

    # When they are exported as an Anki deck
    package = _export(tmp_path)

    # Then the deck holds one note per item, on the note type of its category
    models, decks, notes = _collection(package, tmp_path / "unpacked")
    by_name = {model["name"]: model for model in models.values()}
    assert sorted(by_name) == ["havachat idiom", "havachat pronunciation"]
    assert "havachat::zh::HSK 1" in [deck["name"] for deck in decks.values()]
    assert len(notes) == 3
    mid, _, tags, fields = notes[0]
    assert str(mid) == str(by_name["havachat pronunciation"]["id"])
    assert tags.split() == ["havachat::zh", "havachat::pronunciation", "level::HSK_1"]
    # the fields: title, explanation, (example, romanization, translation) x 3, words, level, id
    names = [field["name"] for field in by_name["havachat pronunciation"]["flds"]]
    values = dict(zip(names, fields.split("\x1f"), strict=True))
    assert values["Title"] == "&lt;img src=x onerror=alert(1)&gt;"
    assert values["Explanation"] == "Why &lt;img src=x onerror=alert(1)&gt;"
    assert (values["Example2"], values["Romanization2"], values["Translation2"]) == ("谢谢", "xièxie", "thanks")
    assert values["Example3"] == values["Romanization3"] == values["Translation3"] == ""
    assert (values["Words"], values["Level"]) == ("你好 · 谢谢", "HSK 1")
    # and the card's back shows each example's romanization and translation
    (template,) = by_name["havachat idiom"]["tmpls"]
    for n in (1, 2, 3):
        assert f"{{{{Romanization{n}}}}}" in template["afmt"] and f"{{{{Translation{n}}}}}" in template["afmt"]
    assert "{{Title}}" in template["qfmt"]


def test_a_second_export_keeps_the_ids_so_anki_updates_the_notes(tmp_path: Path) -> None:
    (tmp_path / "items.jsonl").write_text(_item(Category.IDIOM, "x", 2).model_dump_json() + "\n", encoding="utf-8")

    first = _collection(_export(tmp_path, "--out", str(tmp_path / "a.apkg")), tmp_path / "a")
    second = _collection(_export(tmp_path, "--out", str(tmp_path / "b.apkg")), tmp_path / "b")

    assert list(first[0]) == list(second[0])  # note type ids
    assert [n[:2] for n in first[2]] == [n[:2] for n in second[2]]  # note type and guid of each note
    assert set(first[1]) == set(second[1])  # deck ids

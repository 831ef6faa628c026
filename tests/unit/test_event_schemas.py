"""The event contract as code: schemas/*.json and template.yaml's registry are what the detail models generate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from pydantic import BaseModel

from havachat.pipeline.contracts import EVENT_MESSAGE_CHARS, GENERATED, ContentFailedDetail
from havachat_local.event_schemas import (
    DRAFT_4,
    EVENT_DETAILS,
    SCHEMAS_DIR,
    detail_schema,
    schema_file_text,
    schema_name,
    template_schemas,
    write,
)
from havachat_local.template import load_template
from tests.event_schemas import check_detail
from tests.helpers import ROOT, load_event

REGENERATE = "run `python -m havachat_local.event_schemas` (make schemas) and commit the result"


def _committed(detail_type: str) -> str:
    return (ROOT / SCHEMAS_DIR / f"{detail_type}.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("detail_type", EVENT_DETAILS)
def test_the_committed_schema_is_the_one_the_detail_model_generates(detail_type: str) -> None:
    assert _committed(detail_type) == schema_file_text(detail_type), REGENERATE


def test_schemas_holds_a_schema_for_each_published_event_and_nothing_else() -> None:
    assert sorted(p.stem for p in (ROOT / SCHEMAS_DIR).iterdir()) == sorted(EVENT_DETAILS)


def test_the_templates_registry_holds_the_committed_schemas() -> None:
    template = load_template(ROOT / "template.yaml")
    schemas = [r for r in template["Resources"].values() if r["Type"] == "AWS::EventSchemas::Schema"]
    [(registry_id, registry)] = [
        (lid, r) for lid, r in template["Resources"].items() if r["Type"] == "AWS::EventSchemas::Registry"
    ]

    contents = {name: json.loads(content) for name, content in template_schemas(template).items()}

    assert contents == {schema_name(t): json.loads(_committed(t)) for t in EVENT_DETAILS}, REGENERATE
    assert {s["Properties"]["Type"] for s in schemas} == {"JSONSchemaDraft4"}
    assert all(s["Properties"]["RegistryName"] == {"Fn::GetAtt": [registry_id, "RegistryName"]} for s in schemas)
    assert registry["Properties"]["RegistryName"] == {"Fn::Sub": "${AWS::StackName}-events"}


@pytest.mark.parametrize("detail_type", EVENT_DETAILS)
def test_each_schema_is_a_valid_draft_4_schema(detail_type: str) -> None:
    schema = json.loads(_committed(detail_type))

    Draft4Validator.check_schema(schema)
    assert (schema["$schema"], schema["title"]) == (DRAFT_4, detail_type)
    assert set(schema["required"]) == set(schema["properties"])


def test_a_model_needing_a_keyword_draft_4_lacks_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Pair(BaseModel):
        words: tuple[str, str]  # a tuple is `prefixItems` (2020-12)

    monkeypatch.setitem(EVENT_DETAILS, "PairMade", Pair)

    with pytest.raises(ValueError, match=r"draft 4 lacks: \['prefixItems'\]"):
        detail_schema("PairMade")


def test_the_sample_completion_event_matches_its_schema() -> None:
    check_detail(GENERATED, load_event("learning_items_generated")["detail"])


def test_a_failure_message_is_cut_so_the_event_stays_small() -> None:
    detail = ContentFailedDetail.of("run-1", RuntimeError("x" * (EVENT_MESSAGE_CHARS * 3)))

    assert len(detail.message) == EVENT_MESSAGE_CHARS
    check_detail("LearningContentGenerationFailed", detail.model_dump(mode="json"))


def test_regenerating_rewrites_stale_schema_files_and_template_contents(tmp_path: Path) -> None:
    # Given a copy of the repository whose schema files and template contents are out of date
    shutil.copy(ROOT / "template.yaml", tmp_path / "template.yaml")
    shutil.copytree(ROOT / SCHEMAS_DIR, tmp_path / SCHEMAS_DIR)
    stale = json.dumps({"title": GENERATED})
    template = (tmp_path / "template.yaml").read_text(encoding="utf-8")
    current = template_schemas(load_template(tmp_path / "template.yaml"))[schema_name(GENERATED)]
    (tmp_path / "template.yaml").write_text(template.replace(current, stale), encoding="utf-8")
    (tmp_path / SCHEMAS_DIR / f"{GENERATED}.json").write_text(stale, encoding="utf-8")

    # When the schemas are regenerated
    changed = write(tmp_path)

    # Then exactly those are rewritten, to the repository's committed versions, and a second run changes nothing
    assert sorted(changed) == sorted([tmp_path / "template.yaml", tmp_path / SCHEMAS_DIR / f"{GENERATED}.json"])
    assert (tmp_path / "template.yaml").read_text(encoding="utf-8") == template
    assert (tmp_path / SCHEMAS_DIR / f"{GENERATED}.json").read_text(encoding="utf-8") == _committed(GENERATED)
    assert write(tmp_path) == []

"""JSON Schemas (draft 4, as EventBridge's schema registry takes them) of the events the pipeline publishes.

Generated from the detail models in `havachat.pipeline.contracts`, one per detail-type:
`python -m havachat_local.event_schemas` rewrites `schemas/<detail-type>.json` and their copies in
template.yaml's `AWS::EventSchemas::Schema` resources (`Content`); tests/unit/test_event_schemas.py
fails when either differs from what the models generate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from havachat.aws.events import SOURCE
from havachat.pipeline.contracts import (
    CONTENT_GENERATED,
    CONTENT_GENERATION_FAILED,
    GENERATED,
    GENERATION_FAILED,
    ContentFailedDetail,
    ContentGeneratedDetail,
    RunEventDetail,
)
from havachat_local.template import load_template

EVENT_DETAILS: dict[str, type[BaseModel]] = {
    GENERATED: RunEventDetail,
    GENERATION_FAILED: RunEventDetail,
    CONTENT_GENERATED: ContentGeneratedDetail,
    CONTENT_GENERATION_FAILED: ContentFailedDetail,
}
SCHEMAS_DIR = "schemas"
CONTENT_INDENT = " " * 8  # of the JSON line under `Content: |-` in template.yaml
DRAFT_4 = "http://json-schema.org/draft-04/schema#"
DRAFT_4_KEYWORDS = frozenset(
    {
        *("$schema", "id", "$ref", "title", "description", "default", "format", "enum", "type"),
        *("multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength"),
        *("pattern", "items", "additionalItems", "maxItems", "minItems", "uniqueItems"),
        *("properties", "patternProperties", "additionalProperties", "required", "maxProperties", "minProperties"),
        *("definitions", "dependencies", "allOf", "anyOf", "oneOf", "not"),
    }
)
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs")  # name -> schema
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "items")  # `items` may also be one schema
_SCHEMA_VALUES = ("not", "items", "additionalProperties", "additionalItems")


class _EveryFieldRequired(GenerateJsonSchema):
    """Every field is required: a detail is published as `model_dump(mode="json")`, all fields included."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        return True


def detail_schema(detail_type: str) -> dict[str, Any]:
    """The draft-4 JSON Schema of `detail_type`'s detail; ValueError if it needs a keyword draft 4 lacks."""
    model = EVENT_DETAILS[detail_type]
    generated = model.model_json_schema(
        mode="serialization", schema_generator=_EveryFieldRequired, ref_template="#/definitions/{model}"
    )
    schema = {"$schema": DRAFT_4, **_draft4(generated), "title": detail_type}
    unsupported = sorted(_keywords(schema) - DRAFT_4_KEYWORDS)
    if unsupported:
        raise ValueError(f"{detail_type}: {model.__name__} needs JSON Schema keywords draft 4 lacks: {unsupported}")
    return schema


def _draft4(node: Any) -> Any:
    """A pydantic (2020-12) schema in draft 4's spelling (`$defs` is `definitions`, `const` a one-value
    `enum`), without defaults."""
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS:
            converted["definitions" if key == "$defs" else key] = {name: _draft4(s) for name, s in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            converted[key] = [_draft4(s) for s in value]
        elif key in _SCHEMA_VALUES:
            converted[key] = _draft4(value)
        elif key == "const":
            converted["enum"] = [value]
        elif key == "default":
            continue  # every field is required, so a default never applies
        else:
            converted[key] = value
    return converted


def _keywords(node: Any) -> set[str]:
    """Every keyword used in a schema and its subschemas."""
    if not isinstance(node, dict):
        return set()
    found = set(node)
    for key, value in node.items():
        if key in _SCHEMA_MAPS:
            found.update(*(_keywords(s) for s in value.values()))
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            found.update(*(_keywords(s) for s in value))
        elif key in _SCHEMA_VALUES:
            found |= _keywords(value)
    return found


def schema_file_text(detail_type: str) -> str:
    """`schemas/<detail_type>.json` as committed."""
    return json.dumps(detail_schema(detail_type), indent=2, ensure_ascii=False) + "\n"


def template_content(detail_type: str) -> str:
    """The schema as template.yaml's `Content` holds it: one line of compact JSON."""
    return json.dumps(detail_schema(detail_type), ensure_ascii=False, separators=(",", ":"))


def schema_name(detail_type: str) -> str:
    """The registry's name of a detail-type's schema, `<source>@<detail-type>` as EventBridge names them."""
    return f"{SOURCE}@{detail_type}"


def template_schemas(template: dict[str, Any]) -> dict[str, str]:
    """The `Content` of each `AWS::EventSchemas::Schema` in the template, by `SchemaName`."""
    return {
        resource["Properties"]["SchemaName"]: resource["Properties"]["Content"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::EventSchemas::Schema"
    }


def write(root: Path) -> list[Path]:
    """Rewrite `schemas/*.json` and the schemas' `Content` in template.yaml under `root`; returns the files changed."""
    changed = []
    schemas_dir = root / SCHEMAS_DIR
    schemas_dir.mkdir(exist_ok=True)
    for detail_type in EVENT_DETAILS:
        path = schemas_dir / f"{detail_type}.json"
        text = schema_file_text(detail_type)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)

    template_path = root / "template.yaml"
    template = template_path.read_text(encoding="utf-8")
    contents = template_schemas(load_template(template_path))
    updated = template
    for detail_type in EVENT_DETAILS:
        name = schema_name(detail_type)
        line = f"\n{CONTENT_INDENT}{contents.get(name)}\n"
        if name not in contents or updated.count(line) != 1:
            raise ValueError(f"template.yaml needs an AWS::EventSchemas::Schema {name} with a one-line `Content: |-`")
        updated = updated.replace(line, f"\n{CONTENT_INDENT}{template_content(detail_type)}\n")
    if updated != template:
        template_path.write_text(updated, encoding="utf-8")
        changed.append(template_path)
    return changed


def main() -> None:
    """Regenerate the schemas of the repository in the working directory."""
    for path in write(Path.cwd()):
        print(f"rewrote {path}")


if __name__ == "__main__":
    main()

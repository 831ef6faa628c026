"""Read `template.yaml` and build its bucket, tables and bus in moto, so local runs and tests cannot drift.

Only what a local run needs is read: DynamoDB tables (key schema, attribute definitions, TTL),
S3 buckets, event buses, the functions (handler files, `AutoPublishAlias`) and the state machine
(definition file and `DefinitionSubstitutions`). CloudFormation tags (`!Ref`, `!Sub`, `!GetAtt`, ...) load as
their long-form dicts (`{"Ref": ...}`, `{"Fn::Sub": ...}`, `{"Fn::GetAtt": [...]}`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
BUCKET_TYPES = ("AWS::S3::Bucket",)
BUS_TYPES = ("AWS::Events::EventBus",)
FUNCTION_TYPES = ("AWS::Serverless::Function",)
STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")


class _CfnLoader(yaml.SafeLoader):
    """A safe loader that keeps CloudFormation's short-form tags as long-form dicts."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = suffix if suffix == "Ref" or suffix == "Condition" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_CfnLoader)  # a SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path}: not a CloudFormation template (no Resources)")
    return data


@dataclass
class FunctionDef:
    logical_id: str
    handler_file: Path
    handler_name: str
    alias: str | None = None  # AutoPublishAlias: `!Ref <Function>.Alias` names this alias of the function


@dataclass
class StateMachineDef:
    logical_id: str
    definition_file: Path
    substitutions: dict[str, Any] = field(default_factory=dict)


@dataclass
class TemplateInfo:
    """The parts of the template the local runner builds."""

    root: Path
    template: dict[str, Any]

    def resources(self, types: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        return {lid: res for lid, res in self.template["Resources"].items() if res.get("Type") in types}

    def parameter_default(self, name: str) -> Any:
        return self.template.get("Parameters", {}).get(name, {}).get("Default")

    def functions(self) -> dict[str, FunctionDef]:
        globals_fn = self.template.get("Globals", {}).get("Function", {})
        result = {}
        for lid, res in self.resources(FUNCTION_TYPES).items():
            props = res.get("Properties", {})
            code_uri = props.get("CodeUri", globals_fn.get("CodeUri", "."))
            handler = props.get("Handler", globals_fn.get("Handler", "app.lambda_handler"))
            module, _, func = str(handler).rpartition(".")
            alias = props.get("AutoPublishAlias", globals_fn.get("AutoPublishAlias"))
            handler_file = self.root / str(code_uri) / f"{module.replace('.', '/')}.py"
            result[lid] = FunctionDef(lid, handler_file, func, str(alias) if alias else None)
        return result

    def alias_refs(self, arns: dict[str, str]) -> dict[str, str]:
        """`<Function>.Alias` -> the alias-qualified ARN, for functions with an AutoPublishAlias."""
        return {f"{lid}.Alias": f"{arns[lid]}:{f.alias}" for lid, f in self.functions().items() if f.alias}

    def state_machine(self) -> StateMachineDef:
        machines = self.resources(STATE_MACHINE_TYPES)
        if len(machines) != 1:
            raise ValueError(f"expected one state machine in the template, found {sorted(machines)}")
        lid, res = next(iter(machines.items()))
        props = res.get("Properties", {})
        uri = props.get("DefinitionUri") or "statemachine/pipeline.asl.json"
        return StateMachineDef(lid, self.root / str(uri), dict(props.get("DefinitionSubstitutions", {})))


def table_spec(logical_id: str, resource: dict[str, Any], name: str) -> tuple[dict[str, Any], str | None]:
    """`create_table` arguments for a table resource, and its TTL attribute if any."""
    props = resource.get("Properties", {})
    if resource["Type"] == "AWS::Serverless::SimpleTable":
        pk = props.get("PrimaryKey", {"Name": "id", "Type": "String"})
        attr_type = {"String": "S", "Number": "N", "Binary": "B"}[pk.get("Type", "String")]
        spec = {
            "TableName": name,
            "KeySchema": [{"AttributeName": pk["Name"], "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": pk["Name"], "AttributeType": attr_type}],
            "BillingMode": "PAY_PER_REQUEST",
        }
        return spec, None
    spec = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(index_kind):
            spec[index_kind] = [
                {k: v for k, v in index.items() if k != "ProvisionedThroughput"} for index in props[index_kind]
            ]
    ttl = props.get("TimeToLiveSpecification") or {}
    return spec, ttl.get("AttributeName") if ttl.get("Enabled") in (True, "true", "True") else None


def resolve(value: Any, refs: dict[str, str], arns: dict[str, str]) -> str:
    """A substitution value as a string: `Ref` and `GetAtt X.Arn` resolved from the given tables."""
    if isinstance(value, dict):
        if "Ref" in value:
            return refs[str(value["Ref"])]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            logical_id, attribute = (target.split(".", 1) if isinstance(target, str) else target)[:2]
            if attribute != "Arn":
                raise ValueError(f"cannot resolve GetAtt {logical_id}.{attribute} locally")
            return arns[logical_id]
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            text: str = value["Fn::Sub"]
            for name, replacement in refs.items():
                text = text.replace("${" + name + "}", replacement)
            for name, arn in arns.items():
                text = text.replace("${" + name + ".Arn}", arn)
            return text
        raise ValueError(f"cannot resolve {value!r} locally")
    return str(value)

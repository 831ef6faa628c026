"""The IAM roles of `template.yaml` as AWS would create them: translated by aws-sam-translator, never hand-copied.

    roles = TemplateRoles.translate(root)                          # SAM -> CloudFormation, parameter defaults
    roles = roles.without_statement("FinalizeFunctionRole", "ListCatalog")   # tests: one grant less
    roles.function_roles()                                          # {"PlanFunction": "PlanFunctionRole", ...}
    roles.resolved("PlanFunctionRole", names)                      # the role with every intrinsic resolved

`LocalNames` says what the template's `Ref`, `Fn::GetAtt` and pseudo parameters are in the local
(moto) stack; `resolve` evaluates `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join` and `Fn::If` (with
the template's Conditions), dropping `AWS::NoValue`.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from havachat_local.template import load_template

# The AWS managed policies SAM attaches to this template's roles (basic Lambda logging, X-Ray tracing).
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
_ARTIFACT_URIS = ("CodeUri", "ContentUri", "DefinitionUri")
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_NO_VALUE = object()


class ManagedPolicies:
    """The `ManagedPolicyLoader` samtranslator asks when its bundled map lacks a name (no IAM call)."""

    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


@dataclass
class LocalNames:
    """What the template's references are in the local stack.

    `refs`: logical id or parameter -> `Ref` value (pseudo parameters included); `attributes`:
    `"<logical id>.<attribute>"` -> `Fn::GetAtt` value; `conditions`: the template's Conditions.
    """

    refs: dict[str, str]
    attributes: dict[str, str]
    conditions: dict[str, Any] = field(default_factory=dict)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name not in self.refs:
            raise KeyError(f"no local value for Ref {name}")
        return self.refs[name]

    def attribute(self, logical_id: str, attribute: str) -> str:
        key = f"{logical_id}.{attribute}"
        if key not in self.attributes:
            raise KeyError(f"no local value for Fn::GetAtt {key}")
        return self.attributes[key]

    def condition(self, name: str) -> bool:
        return _condition(self.conditions[name], self)


def resolve(value: Any, names: LocalNames) -> Any:
    """`value` with every intrinsic function evaluated; `AWS::NoValue` removes the key or list entry."""
    if isinstance(value, list):
        return [r for r in (resolve(v, names) for v in value) if r is not _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            return names.ref(argument)
        if key == "Fn::GetAtt":
            logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return names.attribute(logical_id, attribute)
        if key == "Fn::Sub":
            return _sub(argument, names)
        if key == "Fn::Join":
            separator, parts = argument
            return str(separator).join(str(p) for p in resolve(parts, names))
        if key == "Fn::If":
            condition, if_true, if_false = argument
            return resolve(if_true if names.condition(condition) else if_false, names)
        if key.startswith("Fn::"):
            raise ValueError(f"{key} is not supported by the local IAM tier")
    return {k: r for k, r in ((k, resolve(v, names)) for k, v in value.items()) if r is not _NO_VALUE}


def _sub(argument: Any, names: LocalNames) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    local = {name: resolve(v, names) for name, v in variables.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"  # ${!Literal} stays a literal ${Literal}
        if name in local:
            return str(local[name])
        if "." in name and not name.startswith("AWS::"):
            logical_id, attribute = name.split(".", 1)
            return names.attribute(logical_id, attribute)
        return str(names.ref(name))

    return _SUB_VARIABLE.sub(replace, str(text))


def _condition(expression: Any, names: LocalNames) -> bool:
    (key, argument), *_ = expression.items()
    if key == "Condition":
        return names.condition(argument)
    if key == "Fn::Equals":
        left, right = (resolve(a, names) for a in argument)
        return str(left) == str(right)
    if key == "Fn::Not":
        return not _condition(argument[0], names)
    if key == "Fn::And":
        return all(_condition(a, names) for a in argument)
    if key == "Fn::Or":
        return any(_condition(a, names) for a in argument)
    raise ValueError(f"unsupported condition {key}")


def translate(template: dict[str, Any], region: str) -> dict[str, Any]:
    """The SAM template as CloudFormation (aws-sam-translator's `transform`), parameters at their defaults.

    Local paths (`CodeUri: functions/plan/`) become S3 URIs first, as `sam package` makes them: the
    translator accepts nothing else, and roles do not depend on them.
    """
    from samtranslator.translator.transform import transform  # a dev dependency: only the IAM tier needs it

    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        properties = resource.get("Properties") or {}
        for name in _ARTIFACT_URIS:
            if isinstance(properties.get(name), str):
                properties[name] = f"s3://local-artifacts/{properties[name].strip('/')}"
    parameters = {k: p["Default"] for k, p in packaged.get("Parameters", {}).items() if "Default" in p}
    # The translator reads the region (for ARNs and the partition) from boto3's default session.
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": region}):
        translated: dict[str, Any] = transform(packaged, parameters, ManagedPolicies())
    return translated


@dataclass(frozen=True)
class TemplateRoles:
    """The roles of the translated template, unresolved; copies with a statement less for negative tests."""

    template: dict[str, Any]

    @classmethod
    def translate(cls, root: Path, region: str = "us-east-1") -> TemplateRoles:
        return cls(translate(load_template(root / "template.yaml"), region))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return resources

    def function_roles(self) -> dict[str, str]:
        """Function logical id -> the logical id of the role it runs with (`<Function>Role`)."""
        return {
            lid: _role_of(resource["Properties"]["Role"])
            for lid, resource in self.resources.items()
            if resource["Type"] == "AWS::Lambda::Function"
        }

    def state_machine_role(self) -> str:
        (role,) = (
            _role_of(r["Properties"]["RoleArn"])
            for r in self.resources.values()
            if r["Type"] == "AWS::StepFunctions::StateMachine"
        )
        return role

    def statement_ids(self, role: str) -> list[str]:
        """The Sids of the role's inline policy statements (unresolved: `Fn::If` branches count when present)."""
        sids: list[str] = []
        for policy in self.resources[role]["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                sids.extend(s["Sid"] for s in _statement_branches(statement) if "Sid" in s)
        return sids

    def without_statement(self, role: str, sid: str) -> TemplateRoles:
        """A copy in which the role's inline policies lack the statement `sid` (KeyError if it has none)."""
        if sid not in self.statement_ids(role):
            raise KeyError(f"{role} has no statement {sid}")
        template = copy.deepcopy(self.template)
        for policy in template["Resources"][role]["Properties"].get("Policies", []):
            document = policy["PolicyDocument"]
            document["Statement"] = [
                s for s in document["Statement"] if all(b.get("Sid") != sid for b in _statement_branches(s))
            ]
        return TemplateRoles(template)

    def resolved(self, role: str, names: LocalNames) -> dict[str, Any]:
        """The role's properties with the template's Conditions and the local names resolved."""
        local = LocalNames(names.refs, names.attributes, self.template.get("Conditions", {}))
        resolved: dict[str, Any] = resolve(self.resources[role]["Properties"], local)
        return resolved


def _role_of(value: Any) -> str:
    """The logical id in `{"Fn::GetAtt": ["XRole", "Arn"]}`."""
    target = value["Fn::GetAtt"]
    return str(target[0] if isinstance(target, list) else target.split(".", 1)[0])


def _statement_branches(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """A statement, or the two branches of an `Fn::If` statement."""
    if "Fn::If" in statement:
        return [b for b in statement["Fn::If"][1:] if isinstance(b, dict) and "Ref" not in b]
    return [statement]

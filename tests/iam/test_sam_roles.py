"""The roles the IAM tier creates are the template's, translated by aws-sam-translator and resolved, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from havachat_local.runner import LocalPipeline
from havachat_local.sam_roles import MANAGED_POLICIES, LocalNames, TemplateRoles, resolve

pytestmark = pytest.mark.iam


def intrinsics(value: Any) -> list[str]:
    """The intrinsic functions left in a resolved value."""
    if isinstance(value, list):
        return [name for v in value for name in intrinsics(v)]
    if isinstance(value, dict):
        found = [k for k in value if k == "Ref" or k.startswith("Fn::")]
        return found + [name for v in value.values() for name in intrinsics(v)]
    return []


def test_every_function_and_the_state_machine_have_a_role_of_their_own(template_roles: TemplateRoles) -> None:
    roles = template_roles.function_roles()

    assert set(roles) == {"PlanFunction", "GenerateBatchFunction", "FinalizeFunction", "ContentFunction"}
    assert len(set(roles.values())) == len(roles)
    assert template_roles.state_machine_role() not in roles.values()


def test_the_managed_policy_stub_knows_every_managed_policy_the_roles_attach(template_roles: TemplateRoles) -> None:
    attached = {
        arn
        for resource in template_roles.resources.values()
        if resource["Type"] == "AWS::IAM::Role"
        for arn in resource["Properties"].get("ManagedPolicyArns", [])
    }

    assert attached and attached <= set(MANAGED_POLICIES.values())


def test_the_roles_in_moto_are_the_translated_ones(iam_local: LocalPipeline, template_roles: TemplateRoles) -> None:
    assert iam_local.iam is not None
    names, client = iam_local.iam.names, iam_local.session.client("iam")

    for role, arn in iam_local.iam.role_arns.items():
        expected = template_roles.resolved(role, names)
        name = arn.rsplit("/", 1)[1]
        assert intrinsics(expected) == [], role
        for policy in expected["Policies"]:
            stored = client.get_role_policy(RoleName=name, PolicyName=policy["PolicyName"])["PolicyDocument"]
            assert stored["Statement"] == policy["PolicyDocument"]["Statement"], (role, policy["PolicyName"])
        attached = client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        assert sorted(p["PolicyArn"] for p in attached) == sorted(expected.get("ManagedPolicyArns", []))


def test_resolve_evaluates_conditions_subs_and_drops_no_value() -> None:
    names = LocalNames(
        refs={"Stage": "dev", "AWS::Region": "us-east-1", "Bucket": "b"},
        attributes={"Bucket.Arn": "arn:aws:s3:::b"},
        conditions={
            "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
            "IsProd": {"Fn::Not": [{"Condition": "IsDev"}]},
        },
    )
    template = {
        "Statement": [
            {"Fn::If": ["IsProd", {"Sid": "Prod"}, {"Ref": "AWS::NoValue"}]},
            {"Fn::If": ["IsDev", {"Sid": "Dev"}, {"Ref": "AWS::NoValue"}]},
            {"Sid": "Sub", "Resource": {"Fn::Sub": "${Bucket.Arn}/uploads/*"}, "Condition": {"Ref": "AWS::NoValue"}},
            {
                "Sid": "Variables",
                "Resource": {"Fn::Sub": ["${!Literal}-${Arn}-${AWS::Region}", {"Arn": {"Fn::GetAtt": "Bucket.Arn"}}]},
            },
        ]
    }

    assert resolve(template, names) == {
        "Statement": [
            {"Sid": "Dev"},
            {"Sid": "Sub", "Resource": "arn:aws:s3:::b/uploads/*"},
            {"Sid": "Variables", "Resource": "${Literal}-arn:aws:s3:::b-us-east-1"},
        ]
    }


def test_a_statement_can_be_left_out_in_memory_only(template_roles: TemplateRoles) -> None:
    fewer = template_roles.without_statement("GenerateBatchFunctionRole", "ReadAnthropicApiKey")

    assert "ReadAnthropicApiKey" not in fewer.statement_ids("GenerateBatchFunctionRole")
    assert "ReadAnthropicApiKey" in template_roles.statement_ids("GenerateBatchFunctionRole")
    with pytest.raises(KeyError):
        template_roles.without_statement("PlanFunctionRole", "NoSuchStatement")

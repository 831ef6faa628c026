"""The IAM tier: the local pipeline with IAM enforced, each handler's clients holding its own role's credentials.

    tier = IamTier(TemplateRoles.translate(root), region=REGION, account=ACCOUNT)
    pipeline.session = tier.admin_session()   # the runner's own calls (upload, start, read results)
    tier.enforce(pipeline, refs)   # the template's roles in moto, assumed with STS; each function's
                                   # adapters on its role's session; IAM enforced until tier.stop()

Roles and their inline policies come from `template.yaml` translated by aws-sam-translator
(`havachat_local.sam_roles`), with `Ref`/`Fn::GetAtt`/`Fn::Sub`/`Fn::If` resolved against the local
names; the AWS managed policies SAM attaches come from moto's bundled copy.

While the tier runs, moto (5.2.5) is made at least as strict as AWS where it matters here:

- moto authorizes DynamoDB, EventBridge, Secrets Manager, Lambda and Step Functions requests
  against resource `*`, which a scoped policy never allows: `_determine_resource` gives them the
  request's real ARN (the table, the bus of the entries, the secret, the function, the state
  machine or execution). A request naming several tables or buses is checked against `*`.
- moto names Lambda's Invoke action `lambda:Invoke`; IAM calls it `lambda:InvokeFunction`.
- S3 answers a missing key with 404 only to a caller allowed `s3:ListBucket`, else 403 AccessDenied.
- moto's Step Functions calls Lambda and S3 (ItemReader, ResultWriter) with access key "ak":
  those clients get the state machine role's credentials (`boto_client_for` builds them with
  the module's `boto3`, replaced here; tests/iam/test_iam_seams.py guards the seam).
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any
from unittest import mock
from urllib.parse import unquote

import boto3
import botocore.session
from moto.awslambda.responses import LambdaResponse
from moto.core.authorization import enable_iam_authentication
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.responses import DynamoHandler
from moto.events.responses import EventsHandler
from moto.iam import access_control
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, iam_backends
from moto.s3.exceptions import MissingKey, S3AccessDeniedError
from moto.s3.responses import S3Response
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.responses import StepFunctionResponse

from havachat.aws.wiring import aws_deps
from havachat_local.sam_roles import LocalNames, TemplateRoles, resolve

if TYPE_CHECKING:
    from havachat_local.runner import LocalPipeline

ADMIN_USER = "havachat-local-admin"
_ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# IAM's action names where they differ from the API operation moto reports.
_IAM_ACTIONS = {"lambda:Invoke": "lambda:InvokeFunction", "lambda:InvokeAsync": "lambda:InvokeFunction"}
# Services whose denials AWS reports as a JSON `AccessDeniedException` (moto answers them in XML).
_JSON_SERVICES = {"dynamodb", "events", "lambda", "secretsmanager", "states"}


class IamTier:
    """The template's roles in moto, a boto3 session per function role, and IAM enforcement (`start`/`stop`)."""

    def __init__(self, roles: TemplateRoles, *, region: str, account: str) -> None:
        self.roles = roles
        self.region = region
        self.account = account
        self.names = LocalNames(refs={}, attributes={})  # the local values of the template's Refs and GetAtts
        self.role_arns: dict[str, str] = {}  # role logical id -> ARN
        self._sessions: dict[str, boto3.session.Session] = {}  # role logical id -> its assumed session
        self._enforced: ExitStack | None = None

    def admin_session(self) -> boto3.session.Session:
        """A session of an IAM user allowed everything, for the runner's own calls; created before enforcement."""
        iam = boto3.client("iam", region_name=self.region)  # the environment's credentials: not enforced yet
        iam.create_user(UserName=ADMIN_USER)
        iam.put_user_policy(UserName=ADMIN_USER, PolicyName="admin", PolicyDocument=json.dumps(_ADMIN_POLICY))
        key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        return _session(self.region, key["AccessKeyId"], key["SecretAccessKey"])

    def create_roles(self, admin: boto3.session.Session, refs: dict[str, str], function_arns: dict[str, str]) -> None:
        """Create the template's secrets, every function's role and the state machine's role, and assume each.

        `refs` are the runner's names (logical id or parameter -> value), `function_arns` its functions.
        """
        names = self.names = self._local_names(admin, refs, function_arns)
        wanted = {role for lid, role in self.roles.function_roles().items() if lid in function_arns}
        wanted.add(self.roles.state_machine_role())
        iam, sts = admin.client("iam"), admin.client("sts")
        for role in sorted(wanted):
            properties = self.roles.resolved(role, names)
            name = f"havachat-local-{role}"
            arn = iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"])
            )["Role"]["Arn"]
            for policy in properties.get("Policies", []):
                # SAM's policy templates omit Version, which AWS reads as 2008-10-17 and moto rejects; no
                # policy variables are used, so 2012-10-17 means the same.
                document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
                iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document))
            for policy_arn in properties.get("ManagedPolicyArns", []):
                self._register_managed_policy(policy_arn)
                iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
            credentials = sts.assume_role(RoleArn=arn, RoleSessionName=role)["Credentials"]
            self.role_arns[role] = arn
            self._sessions[role] = _session(
                self.region, credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
            )

    def enforce(self, pipeline: LocalPipeline, refs: dict[str, str]) -> None:
        """Create the roles, give each of the pipeline's functions adapters on its own role's session, enforce IAM.

        `refs` are the pipeline's names (logical id or parameter -> value); its own calls use `admin_session`.
        """
        shared = pipeline.deps
        assert shared is not None
        self.create_roles(pipeline.session, refs, pipeline.function_arns)
        for function in pipeline.function_deps:
            pipeline.function_deps[function] = aws_deps(
                pipeline.settings,
                self.session_for(function),
                batch_generator=shared.batch_generator,
                content_llm=shared.content_llm,
            )
        self.start()

    def session_for(self, function: str) -> boto3.session.Session:
        """The session of the function's role (by function logical id)."""
        return self._sessions[self.roles.function_roles()[function]]

    def state_machine_session(self) -> boto3.session.Session:
        return self._sessions[self.roles.state_machine_role()]

    # -- enforcement ----------------------------------------------------------------------------

    def start(self) -> None:
        """Enforce IAM, with moto's gaps closed (see the module docstring), until `stop`."""
        credentials = self.state_machine_session().get_credentials()
        assert credentials is not None
        stack = ExitStack()
        for response_class, resource in _RESOURCES.items():
            stack.enter_context(mock.patch.object(response_class, "_determine_resource", resource, create=True))
        stack.enter_context(mock.patch.object(access_control, "IAMRequest", _IamRequest))
        stack.enter_context(mock.patch.object(access_control, "S3IAMRequest", _S3IamRequest))
        stack.enter_context(mock.patch.object(S3Response, "_key_response", _missing_key_needs_list_bucket))
        stack.enter_context(mock.patch.object(boto_client, "boto3", _Boto3WithCredentials(credentials)))
        stack.enter_context(enable_iam_authentication())
        self._enforced = stack

    def stop(self) -> None:
        if self._enforced is not None:
            self._enforced.close()
            self._enforced = None

    # -- names ----------------------------------------------------------------------------------

    def _local_names(
        self, admin: boto3.session.Session, refs: dict[str, str], function_arns: dict[str, str]
    ) -> LocalNames:
        """The local value of every `Ref` and `Fn::GetAtt` the roles may use; creates the template's secrets."""
        region, account = self.region, self.account
        names = LocalNames(refs={"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", **refs}, attributes={})
        for lid, resource in self.roles.resources.items():
            kind = resource["Type"]
            local_name = refs.get(lid, f"havachat-local-{lid}")
            if kind == "AWS::S3::Bucket" and lid in refs:
                names.attributes[f"{lid}.Arn"] = f"arn:aws:s3:::{local_name}"
            elif kind == "AWS::DynamoDB::Table" and lid in refs:
                names.attributes[f"{lid}.Arn"] = f"arn:aws:dynamodb:{region}:{account}:table/{local_name}"
            elif kind == "AWS::Events::EventBus" and lid in refs:
                names.attributes[f"{lid}.Arn"] = f"arn:aws:events:{region}:{account}:event-bus/{local_name}"
                names.attributes[f"{lid}.Name"] = local_name
            elif kind == "AWS::Lambda::Function" and lid in function_arns:
                names.refs[lid] = function_arns[lid].split(":")[6]
                names.attributes[f"{lid}.Arn"] = function_arns[lid]
            elif kind == "AWS::SQS::Queue":  # not created locally (nothing sends to it): its ARN only
                names.attributes[f"{lid}.Arn"] = f"arn:aws:sqs:{region}:{account}:{local_name}"
                names.attributes[f"{lid}.QueueName"] = local_name
            elif kind == "AWS::Logs::LogGroup":
                names.attributes[f"{lid}.Arn"] = f"arn:aws:logs:{region}:{account}:log-group:{local_name}:*"
            elif kind == "AWS::SecretsManager::Secret":  # created, so that its Ref is a real ARN
                properties = resource.get("Properties", {})
                created = admin.client("secretsmanager").create_secret(
                    Name=resolve(properties.get("Name", local_name), names),
                    SecretString=resolve(properties.get("SecretString", ""), names),
                )
                names.refs[lid] = created["ARN"]
        return names

    def _register_managed_policy(self, arn: str) -> None:
        """Make an AWS managed policy attachable: moto loads its bundled copies only when configured to."""
        backend = iam_backends[self.account]["aws"]
        if arn in backend.managed_policies:
            return
        name = arn.rsplit("/", 1)[1]
        data = json.loads(aws_managed_policies_data).get(name)
        if data is None:
            raise KeyError(f"moto has no copy of the AWS managed policy {arn}")
        policy = AWSManagedPolicy.from_data(name, self.account, self.region, data)
        backend.managed_policies[policy.arn] = policy


def _session(region: str, access_key: str, secret_key: str, token: str | None = None) -> boto3.session.Session:
    """A session with these credentials; every session shares one botocore loader (service models parse once)."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    session = boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
        region_name=region,
        botocore_session=core,
    )
    _LOADER.search_paths[:] = dict.fromkeys(_LOADER.search_paths)  # each boto3 session appends its data path
    return session


_LOADER = botocore.session.Session().get_component("data_loader")


class _IamRequest(access_control.IAMRequest):
    """moto's IAM request with IAM's action names, denied as AWS denies: `AccessDeniedException` (JSON
    services) naming the action and the resource."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._action = _IAM_ACTIONS.get(self._action, self._action)
        self._resource = "*"

    def check_action_permitted(self, resource: str) -> None:
        self._resource = resource
        super().check_action_permitted(resource)

    def _raise_access_denied(self) -> None:
        if self._service in _JSON_SERVICES:
            raise _AccessDeniedException(_denial(self._access_key.arn, self._action, self._resource))
        super()._raise_access_denied()


class _S3IamRequest(access_control.S3IAMRequest):
    """moto's S3 IAM request, its AccessDenied naming the action and the object as AWS's does."""

    def check_action_permitted(self, resource: str) -> None:
        self._resource = resource
        super().check_action_permitted(resource)

    def _raise_access_denied(self) -> None:
        try:
            super()._raise_access_denied()
        except S3AccessDeniedError as denied:
            denied.message = _denial(self._access_key.arn, self._action, self._resource)
            raise


class _AccessDeniedException(JsonRESTError):
    code = 403

    def __init__(self, message: str) -> None:
        super().__init__("AccessDeniedException", message)


def _denial(principal: str, action: str, resource: str) -> str:
    return (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


class _Boto3WithCredentials:
    """Stands in for the `boto3` module in moto's `boto_client_for`: its clients carry the given credentials."""

    def __init__(self, credentials: Any) -> None:
        frozen = credentials.get_frozen_credentials()
        self._keys = {
            "aws_access_key_id": frozen.access_key,
            "aws_secret_access_key": frozen.secret_key,
            "aws_session_token": frozen.token,
        }

    def client(self, **kwargs: Any) -> Any:
        return boto3.client(**{**kwargs, **self._keys})


def _one(arns: set[str]) -> str:
    """The resource to authorize: the one ARN a request names, or `*` when it names several (or none)."""
    return next(iter(arns)) if len(arns) == 1 else "*"


def _arn(response: Any, service: str, name: str, kind: str) -> str:
    """`name` when it is an ARN already, else the ARN of the `kind` so named in the response's account and region."""
    if name.startswith("arn:"):
        return name
    return f"arn:aws:{service}:{response.region}:{response.current_account}:{kind}{name}"


def _dynamodb_resource(self: Any) -> str:
    body = self.body if isinstance(self.body, dict) else {}
    tables = {body["TableName"]} if "TableName" in body else set(body.get("RequestItems") or {})
    for transact in body.get("TransactItems") or []:
        tables.update(op["TableName"] for op in transact.values())
    arns = {_arn(self, "dynamodb", table, "table/") for table in tables}
    if len(arns) == 1 and body.get("IndexName"):
        return f"{next(iter(arns))}/index/{body['IndexName']}"
    return _one(arns)


def _events_resource(self: Any) -> str:
    if self._get_action() != "PutEvents":
        return "*"
    buses = {entry.get("EventBusName") or "default" for entry in self._get_param("Entries") or []}
    return _one({_arn(self, "events", bus, "event-bus/") for bus in buses})


def _secretsmanager_resource(self: Any) -> str:
    secret_id = self._get_param("SecretId")
    if not secret_id:
        return "*"
    secret = self.backend.secrets.get(secret_id)
    return str(secret.arn) if secret is not None else _arn(self, "secretsmanager", secret_id, "secret:")


def _lambda_resource(self: Any) -> str:
    match = re.search(r"/functions/([^/?]+)", self.path)
    if match is None:
        return "*"
    arn = _arn(self, "lambda", unquote(match.group(1)), "function:")
    qualifier = (self.querystring.get("Qualifier") or [None])[0]
    return f"{arn}:{qualifier}" if qualifier and arn.count(":") == 6 else arn


def _stepfunctions_resource(self: Any) -> str:
    return str(self._get_param("executionArn") or self._get_param("stateMachineArn") or "*")


_RESOURCES = {
    DynamoHandler: _dynamodb_resource,
    EventsHandler: _events_resource,
    SecretsManagerResponse: _secretsmanager_resource,
    LambdaResponse: _lambda_resource,
    StepFunctionResponse: _stepfunctions_resource,
}

_original_key_response = S3Response._key_response


def _missing_key_needs_list_bucket(self: Any, request: Any, full_url: str) -> Any:
    """S3 without `s3:ListBucket`: a missing key answers 403 AccessDenied, not 404."""
    try:
        response = _original_key_response(self, request, full_url)
    except MissingKey:
        _authorize_list_bucket(self)
        raise
    if request.method == "HEAD" and response[0] == 404:
        _authorize_list_bucket(self)
    return response


def _authorize_list_bucket(response: Any) -> None:
    response.data["Action"] = "ListBucket"
    response._authenticate_and_authorize_s3_action(bucket_name=response.bucket_name)

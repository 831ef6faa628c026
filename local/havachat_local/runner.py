"""Run the real state machine and handlers on in-process moto: the local run and the end-to-end tests.

    with LocalPipeline(llm) as local:
        result = local.run_file(Path("zh_hsk1.csv"), language="zh", level="HSK1")
        result.summary.status, local.read_items(result.run_id)

What is real: `statemachine/pipeline.asl.json` with the template's `DefinitionSubstitutions`,
executed by moto's Step Functions interpreter (Retry, Catch, Distributed Map reading the S3
manifest, in parallel threads), the three handlers with their decorators, and the bucket,
tables and bus built from `template.yaml`. What is local:

- moto's docker-less Lambda only echoes its input, so `LambdaSimpleBackend.invoke` (moto==5.2.5)
  is patched, while the runner is open, to call the handler file of the function by name, with
  the runner's adapters as its `deps` (`function_deps`); a raised exception becomes an `Unhandled`
  function error whose `errorType` is the class name, as the Lambda Python runtime reports it.
  `tests/integration/test_moto_seam.py` guards the seam.
- moto's EventBridge cannot target a state machine: the runner uploads the object, builds the
  `Object Created` event the bucket would send and starts the execution itself.
- the LLM is injected (a real `InstructorClaude`, or one over the fake Claude in tests), or the
  offline generator.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol
from unittest import mock

import boto3
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from havachat.aws.wiring import AwsDeps, Lazy, aws_deps, llm_generator
from havachat.errors import MissingCredentials
from havachat.generation import BatchGenerator
from havachat.llm_port import StructuredContentLlm, StructuredLlm
from havachat.models import LearningItem, RunPlan
from havachat.offline import OfflineGenerator
from havachat.pipeline.contracts import RunSummary, S3Object, now_iso
from havachat.pipeline.keys import RunKeys, run_id_for
from havachat.settings import Settings
from havachat_local.iam import IamTier
from havachat_local.moto_speed import speedups
from havachat_local.sam_roles import TemplateRoles
from havachat_local.state import LocalState
from havachat_local.template import (
    BUCKET_TYPES,
    BUS_TYPES,
    TABLE_TYPES,
    TemplateInfo,
    load_template,
    resolve,
    table_spec,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_NAME = "havachat-local"
PLAN, GENERATE, FINALIZE = "PlanFunction", "GenerateBatchFunction", "FinalizeFunction"
_ENV_DEFAULTS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_SERVICE_NAME": "havachat",
    "POWERTOOLS_METRICS_NAMESPACE": "Havachat",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@dataclass(frozen=True)
class BatchProgress:
    """Reported after every GenerateBatch invocation (retries included)."""

    run_id: str
    batch_id: str
    ok: bool
    error_type: str | None
    done: int
    total: int


ProgressCallback = Callable[[BatchProgress], None]
Handler = Callable[[dict[str, Any], Any], Any]


class RunnerLlm(StructuredLlm, StructuredContentLlm, Protocol):
    """The LLM of a local run: GenerateBatch's (`generate`) and Content's (`generate_structured`)."""


@dataclass(frozen=True)
class Delivery:
    """One event a template rule matched, delivered to its function: the response, and whether it is an error."""

    function: str
    event: dict[str, Any]
    response: Any
    failed: bool


@dataclass
class RunResult:
    execution_arn: str
    execution_status: str
    run_id: str | None
    summary: RunSummary | None
    duplicate: bool = False
    execution_error: str | None = None
    execution_cause: str | None = None


@dataclass
class LambdaContextStub:
    """What Powertools' `inject_lambda_context` reads from a Lambda context."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    deadline_ms: int = field(default_factory=lambda: int(time.time() * 1000) + 900_000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def find_root(start: Path | None = None) -> Path:
    """The directory holding `template.yaml`: from `start` (or the cwd) upwards, else the source checkout."""
    candidates = [start or Path.cwd(), Path(__file__).resolve().parents[2]]
    for base in candidates:
        for directory in (base, *base.parents):
            if (directory / "template.yaml").is_file():
                return directory
    raise FileNotFoundError("template.yaml not found above the current directory")


def load_handler_module(path: Path, name: str) -> ModuleType:
    """Import a handler file under a unique module name (every function's file is called app.py)."""
    spec = importlib.util.spec_from_file_location(f"havachat_local_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the models' annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def s3_object_created_event(source: S3Object, size: int, region: str = REGION) -> dict[str, Any]:
    """The event S3 sends to EventBridge for a new object (AWS's shape, with a fresh id)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{source.bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": source.bucket},
            "object": {
                "key": source.key,
                "size": size,
                "etag": source.etag or "",
                **({"version-id": source.version_id} if source.version_id else {}),
                "sequencer": f"{time.time_ns():020X}",
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }


class LocalPipeline:
    """moto with the template's resources, the routed Lambda functions and the state machine.

    `llm` is the model GenerateBatch and Content call (or a factory, called once on first use), or
    the `OfflineGenerator` GenerateBatch then uses (Content has no LLM). `settings` gives the model,
    limits and budgets; resource names are the runner's own. `progress` is called after each
    batch (from worker threads). `function_deps` holds the adapters each function is invoked
    with (all `deps` unless a test swaps one), `handlers` each function's handler as invoked.
    With `iam` (the template's roles, `havachat_local.sam_roles`), each function's adapters hold its
    own role's credentials and IAM is enforced (`havachat_local.iam`); the runner's calls are an admin's.
    With `state`, the bucket and tables are loaded from and written back to disk (`havachat_local.state`);
    runs left RUNNING by a process that ended are recorded FAILED (`interrupted`), so they can be resumed.
    """

    def __init__(
        self,
        llm: RunnerLlm | OfflineGenerator | Callable[[], RunnerLlm],
        *,
        settings: Settings | None = None,
        root: Path | None = None,
        progress: ProgressCallback | None = None,
        map_concurrency: int | None = None,
        iam: TemplateRoles | None = None,
        state: LocalState | None = None,
    ) -> None:
        self.root = root or find_root()
        self.info = TemplateInfo(self.root, load_template(self.root / "template.yaml"))
        self._llm_source = llm
        self._base_settings = settings or Settings()
        self.progress = progress
        self.map_concurrency = map_concurrency
        self.iam = IamTier(iam, region=REGION, account=ACCOUNT) if iam is not None else None
        self.state = state
        self.interrupted: list[str] = []
        self._subscriptions: dict[str, str] = {}  # queue url -> function, see `subscribe_functions`
        self._lock = threading.Lock()
        self._done: dict[str, int] = {}
        self._totals: dict[str, int] = {}
        self._stack: list[Any] = []
        self.settings: Settings = self._base_settings
        self.deps: AwsDeps | None = None
        self.function_deps: dict[str, AwsDeps] = {}
        self.handlers: dict[str, Handler] = {}
        self.function_arns: dict[str, str] = {}
        self.state_machine_arn = ""
        self.bucket = ""
        self.bus_name = "default"

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> LocalPipeline:
        env = mock.patch.dict(os.environ, {k: os.environ.get(k, v) for k, v in _ENV_DEFAULTS.items()})
        env.start()
        self._stack.append(env)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            os.environ.pop(name, None)
        moto = mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        moto.start()
        self._stack.append(moto)
        seam = mock.patch.object(LambdaSimpleBackend, "invoke", _routed_invoke(self))
        seam.start()
        self._stack.append(seam)
        for speedup in speedups():  # moto's repeated work, done once (`havachat_local.moto_speed`)
            speedup.start()
            self._stack.append(speedup)
        try:
            self._build()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        while self._stack:
            self._stack.pop().stop()

    # -- building -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.session = self.iam.admin_session() if self.iam else boto3.session.Session(region_name=REGION)
        self.s3 = self.session.client("s3")
        self.dynamodb = self.session.client("dynamodb")
        self.events = self.session.client("events")
        self.sqs = self.session.client("sqs")
        self.sfn = self.session.client("stepfunctions")
        self.awslambda = self.session.client("lambda")
        refs = self._create_data_resources()
        if self.state is not None:
            tables = [refs[lid] for lid in self.info.resources(TABLE_TYPES)]
            self.state.start(ACCOUNT, REGION, buckets=[self.bucket], tables=tables)
            self._stack.append(self.state)
            self.interrupted = self._record_interrupted_runs()
        role_arn = self._create_role()
        self._create_functions(role_arn)
        self._create_state_machine(role_arn, refs)
        if self.iam is not None:  # every function on its own role from the template, IAM enforced from here on
            self.iam.enforce(self, refs)
            self._stack.append(self.iam)

    def _create_data_resources(self) -> dict[str, str]:
        refs: dict[str, str] = {}
        for lid in self.info.resources(BUCKET_TYPES):
            name = f"havachat-local-{lid.lower()}"
            self.s3.create_bucket(Bucket=name)
            self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            refs[lid] = name
        for lid, resource in self.info.resources(TABLE_TYPES).items():
            spec, ttl_attribute = table_spec(lid, resource, name=f"havachat-local-{lid}")
            self.dynamodb.create_table(**spec)
            if ttl_attribute:
                self.dynamodb.update_time_to_live(
                    TableName=spec["TableName"],
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
                )
            refs[lid] = spec["TableName"]
        for lid, resource in self.info.resources(BUS_TYPES).items():
            name = resource.get("Properties", {}).get("Name")
            name = name if isinstance(name, str) else f"havachat-local-{lid.lower()}"
            self.events.create_event_bus(Name=name)
            refs[lid] = name
        for name, parameter in self.info.template.get("Parameters", {}).items():
            if "Default" in parameter:
                refs[name] = str(parameter["Default"])
        refs.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": "havachat-local"})

        self.bucket = refs.get("DataBucket") or next(iter(self.info.resources(BUCKET_TYPES)), "")
        self.bus_name = refs.get("EventBus", "default")
        self.settings = self._base_settings.model_copy(
            update={
                "data_bucket": self.bucket,
                "runs_table": refs.get("RunsTable"),
                "items_table": refs.get("ItemsTable"),
                "content_table": refs.get("ContentTable"),
                "idempotency_table": refs.get("IdempotencyTable"),
                "event_bus_name": self.bus_name,
                "anthropic_secret_name": None,
                "aws_region": REGION,
                "map_concurrency": self.map_concurrency or self._base_settings.map_concurrency,
            }
        )
        batch_generator, content_llm = self._generation()
        self.deps = aws_deps(self.settings, self.session, batch_generator=batch_generator, content_llm=content_llm)
        return refs

    def _record_interrupted_runs(self) -> list[str]:
        """Runs left PLANNING or RUNNING by an ended process (no execution outlives it) become FAILED."""
        assert self.deps is not None and self.settings.runs_table
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.settings.runs_table,
            FilterExpression="#status IN (:planning, :running)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":planning": {"S": "PLANNING"}, ":running": {"S": "RUNNING"}},
            ProjectionExpression="run_id",
        )
        interrupted = sorted(item["run_id"]["S"] for page in pages for item in page["Items"])
        for run_id in interrupted:
            self.deps.runs.update(
                run_id,
                status="FAILED",
                error={"Error": "Interrupted", "Cause": "the local process ended before the run did"},
                updated_at=now_iso(),
            )
        return interrupted

    def _generation(self) -> tuple[Callable[[], BatchGenerator], Callable[[], StructuredContentLlm]]:
        """GenerateBatch's generator and Content's LLM: the offline generator and no LLM, or the
        runner's LLM (built once, on first use)."""
        source = self._llm_source
        if isinstance(source, OfflineGenerator):
            offline = source

            def no_llm() -> StructuredContentLlm:
                raise MissingCredentials(f"the runner was given {offline.model} generation only, no LLM")

            return (lambda: offline), no_llm
        llm: Lazy[RunnerLlm] = Lazy(source if callable(source) else lambda: source)
        return Lazy(lambda: llm_generator(llm(), self.settings)), llm

    def _create_role(self) -> str:
        iam = self.session.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
        arn: str = role["Role"]["Arn"]
        return arn

    def _create_functions(self, role_arn: str) -> None:
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as archive:
            archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
        for lid, function in self.info.functions().items():
            created = self.awslambda.create_function(
                FunctionName=lid,
                Runtime="python3.12",
                Role=role_arn,
                Handler="app.lambda_handler",
                Code={"ZipFile": zipped.getvalue()},
                Timeout=900,
            )
            self.function_arns[lid] = created["FunctionArn"]
            module = load_handler_module(function.handler_file, lid)
            assert self.deps is not None
            self.function_deps[lid] = self.deps
            self.handlers[lid] = self._with_deps(lid, getattr(module, function.handler_name))

    def _with_deps(self, name: str, handler: Callable[..., Any]) -> Handler:
        """`handler` as the runner invokes it: `function_deps[name]` passed in as its `deps`."""

        def invoke(event: dict[str, Any], context: Any) -> Any:
            return handler(event, context, deps=self.function_deps[name])

        return invoke

    def _create_state_machine(self, role_arn: str, refs: dict[str, str]) -> None:
        machine = self.info.state_machine()
        definition = machine.definition_file.read_text(encoding="utf-8")
        refs = {**refs, **self.info.alias_refs(self.function_arns)}  # `!Ref <Function>.Alias`
        for name, value in machine.substitutions.items():
            definition = definition.replace("${" + name + "}", resolve(value, refs, self.function_arns))
        created = self.sfn.create_state_machine(
            name=f"havachat-local-{machine.logical_id}",
            definition=definition,
            roleArn=role_arn,
            type="STANDARD",
        )
        self.state_machine_arn = created["stateMachineArn"]

    # -- running --------------------------------------------------------------------------------

    def upload(self, data: bytes, key: str) -> S3Object:
        """Put a vocab file into the data bucket under `key` (e.g. `uploads/zh/HSK1/list.csv`)."""
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return S3Object(
            bucket=self.bucket,
            key=key,
            version_id=response.get("VersionId"),
            etag=response["ETag"].strip('"'),
        )

    def start(self, event: dict[str, Any]) -> str:
        """Start an execution for an EventBridge event, as the template's rule would (Object Created only)."""
        if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
            raise ValueError(f"not an S3 Object Created event: {event.get('detail-type')!r}")
        started = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=uuid.uuid4().hex, input=json.dumps(event)
        )
        arn: str = started["executionArn"]
        return arn

    def wait(self, execution_arn: str, timeout_s: float = 600.0) -> dict[str, Any]:
        """Poll until the execution ends: every 20 ms at first, backing off to 0.5 s (the poll competes for the GIL)."""
        deadline = time.monotonic() + timeout_s
        pause = 0.02
        while True:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still running after {timeout_s:.0f} s")
            time.sleep(pause)
            pause = min(0.5, pause * 1.5)

    def run_event(self, event: dict[str, Any], timeout_s: float = 600.0) -> RunResult:
        arn = self.start(event)
        described = self.wait(arn, timeout_s)
        output = json.loads(described.get("output") or "{}")
        plan = output.get("plan") or {}
        run_id = plan.get("run_id")
        summary = self.read_summary(run_id) if run_id else None
        if summary is None and run_id is None:
            detail = event["detail"]
            summary = self._summary_for_object(detail["bucket"]["name"], detail["object"])
        return RunResult(
            execution_arn=arn,
            execution_status=described["status"],
            run_id=summary.run_id if summary else run_id,
            summary=summary,
            duplicate=bool(plan.get("duplicate")),
            execution_error=described.get("error"),
            execution_cause=described.get("cause"),
        )

    def resume(self, run_id: str, timeout_s: float = 600.0) -> RunResult:
        """Re-run only the failed batches of a PARTIAL or FAILED run: a new execution with `{"resume_run_id"}`."""
        started = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=uuid.uuid4().hex, input=json.dumps({"resume_run_id": run_id})
        )
        arn: str = started["executionArn"]
        described = self.wait(arn, timeout_s)
        plan = json.loads(described.get("output") or "{}").get("plan") or {}
        return RunResult(
            execution_arn=arn,
            execution_status=described["status"],
            run_id=run_id,
            summary=self.read_summary(run_id),
            duplicate=bool(plan.get("duplicate")),
            execution_error=described.get("error"),
            execution_cause=described.get("cause"),
        )

    def run_bytes(self, data: bytes, key: str, timeout_s: float = 600.0) -> RunResult:
        source = self.upload(data, key)
        return self.run_event(s3_object_created_event(source, len(data)), timeout_s)

    def run_file(self, path: Path, *, language: str, level: str | None, timeout_s: float = 600.0) -> RunResult:
        key = "/".join(part for part in ("uploads", language, level, path.name) if part)
        return self.run_bytes(path.read_bytes(), key, timeout_s)

    # -- reading results ------------------------------------------------------------------------

    def read_summary(self, run_id: str) -> RunSummary | None:
        assert self.deps is not None
        data = self.deps.store.get_json(RunKeys(run_id).summary)
        return RunSummary.model_validate(data) if data is not None else None

    def planned_batches(self, run_id: str) -> Counter[str]:
        """Batches per category of the run's plan (Plan's own, as it wrote it to S3)."""
        assert self.deps is not None
        plan = RunPlan.model_validate(self.deps.store.get_json(RunKeys(run_id).plan))
        return Counter(spec.category.value for spec in plan.batches)

    def read_items(self, run_id: str) -> list[LearningItem]:
        """The run's `items.jsonl` from S3."""
        assert self.deps is not None
        return [LearningItem.model_validate(row) for row in self.deps.store.get_jsonl(RunKeys(run_id).items)]

    def _summary_for_object(self, bucket: str, obj: dict[str, Any]) -> RunSummary | None:
        return self.read_summary(run_id_for(bucket, obj["key"], obj.get("version-id") or obj.get("etag")))

    @contextmanager
    def capture_events(self, detail_types: tuple[str, ...] = ()) -> Iterator[Callable[[], list[dict[str, Any]]]]:
        """Route the bus's `havachat.pipeline` events into an SQS queue; yields a function draining it."""
        queue_url = self.sqs.create_queue(QueueName=f"capture-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        pattern: dict[str, Any] = {"source": ["havachat.pipeline"]}
        if detail_types:
            pattern["detail-type"] = list(detail_types)
        rule = f"capture-{uuid.uuid4().hex[:8]}"
        self.events.put_rule(Name=rule, EventBusName=self.bus_name, EventPattern=json.dumps(pattern))
        self.events.put_targets(Rule=rule, EventBusName=self.bus_name, Targets=[{"Id": "q", "Arn": queue_arn}])

        def drain() -> list[dict[str, Any]]:
            received: list[dict[str, Any]] = []
            while True:
                batch = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
                if not batch:
                    return received
                for message in batch:
                    received.append(json.loads(message["Body"]))
                    self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

        yield drain

    def subscribe_functions(self) -> None:
        """Put the template's EventBridge rules that invoke a function on the bus, with their own patterns,
        each targeting a queue that `deliver` drains (moto's EventBridge cannot invoke the routed handlers)."""
        for lid, resource in self.info.template.get("Resources", {}).items():
            events = resource.get("Properties", {}).get("Events") or {}
            for name, source in events.items():
                if source.get("Type") != "EventBridgeRule" or lid not in self.handlers:
                    continue
                queue_url = self.sqs.create_queue(QueueName=f"rule-{lid}-{name}")["QueueUrl"]
                attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
                rule = f"{lid}-{name}"
                pattern = json.dumps(source["Properties"]["Pattern"])
                self.events.put_rule(Name=rule, EventBusName=self.bus_name, EventPattern=pattern)
                target = {"Id": lid, "Arn": attributes["Attributes"]["QueueArn"]}
                self.events.put_targets(Rule=rule, EventBusName=self.bus_name, Targets=[target])
                self._subscriptions[queue_url] = lid

    def deliver(self) -> list[Delivery]:
        """Invoke each subscribed function with the events its rule matched so far, as EventBridge's
        asynchronous invocation would (once: no retries)."""
        delivered: list[Delivery] = []
        for queue_url, function in self._subscriptions.items():
            while messages := self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
                for message in messages:
                    self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                    event = json.loads(message["Body"])
                    event.setdefault("account", ACCOUNT)  # moto's default target input leaves it out
                    payload, failed = self.invoke(function, json.dumps(event))
                    delivered.append(Delivery(function, event, json.loads(payload), failed))
        return delivered

    # -- invocation (called from moto's threads) ------------------------------------------------

    def invoke(self, function_name: str, payload: bytes | str | None) -> tuple[bytes, bool]:
        """Run a handler in-process; returns the response body and whether it is a function error."""
        name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
        handler = self.handlers.get(name)
        if handler is None:
            missing = {
                "errorType": "ResourceNotFoundException",
                "errorMessage": f"no local handler for {name}",
            }
            return json.dumps(missing).encode(), True
        event = json.loads(payload or "{}")
        context = LambdaContextStub(function_name=name, invoked_function_arn=self.function_arns[name])
        try:
            result = handler(event, context)
        except Exception as exc:
            self._after(name, event, result=None, error=exc)
            body: dict[str, Any] = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            return json.dumps(body).encode(), True
        self._after(name, event, result=result, error=None)
        return json.dumps(result).encode(), False

    def _after(self, name: str, event: dict[str, Any], result: Any, error: Exception | None) -> None:
        if self.state is not None:  # what the invocation wrote to a table, on disk before the next one starts
            self.state.save_tables()
        if name == PLAN and isinstance(result, dict) and result.get("run_id"):
            with self._lock:
                self._totals[result["run_id"]] = int(result.get("batch_count") or 0)
                self._done.setdefault(result["run_id"], 0)
        if name != GENERATE or self.progress is None or "batch" not in event:  # the warm-up, Message Batch states
            return
        run_id = str(event.get("run_id"))
        with self._lock:
            if error is None:
                self._done[run_id] = self._done.get(run_id, 0) + 1
            done, total = self._done.get(run_id, 0), self._totals.get(run_id, 0)
        self.progress(
            BatchProgress(
                run_id=run_id,
                batch_id=str((event.get("batch") or {}).get("batch_id")),
                ok=error is None,
                error_type=type(error).__name__ if error else None,
                done=done,
                total=total,
            )
        )


def _routed_invoke(runner: LocalPipeline) -> Callable[..., bytes]:
    """Stands in for `LambdaSimpleBackend.invoke(function_name, qualifier, body, headers, ...)`."""

    def invoke(
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        payload, is_error = runner.invoke(function_name, body)
        if is_error:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    return invoke

"""The embedded AWS as a server, for `sam local invoke` with no AWS account: `havachat local-aws`.

    with local_aws(root, host="127.0.0.1", port=5000, endpoint_host="host.docker.internal") as stack:
        write_env_vars(stack.env_vars, Path("env.json"))   # sam local invoke ... --env-vars env.json

moto's server mode (`ThreadedMotoServer`) serves, over HTTP, the state of a `LocalPipeline` running in
the same process: the bucket, tables and bus built from `template.yaml`, the functions (routed to the
real handlers, offline) and the state machine. The sample vocab file is put where
`events/s3_object_created.json` points (`havachat_local.sample_events` writes that event from the
same upload). The `--env-vars` file points every function at the server.

`sam local invoke` passes a function only the variables the template declares: the file overrides
their values and adds none. So the template declares `AWS_ENDPOINT_URL` (empty on AWS, where botocore
ignores it), and the file holds every declared variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from moto.moto_api._internal import mock_random
from moto.server import ThreadedMotoServer

from havachat.offline import OfflineGenerator
from havachat.pipeline.contracts import ObjectCreatedEvent, S3Object
from havachat.settings import Provider, Settings
from havachat_local.runner import LocalPipeline
from havachat_local.sam_roles import LocalNames, resolve
from havachat_local.template import FUNCTION_TYPES, TemplateInfo, load_template

SAMPLE_VOCAB = Path("tests/fixtures/vocab/zh_hsk1.csv")
SAMPLE_EVENT = Path("events/s3_object_created.json")
SAMPLE_KEY = "uploads/zh/HSK1/zh_hsk1.csv"
SAMPLE_SEED = 18  # moto's random is seeded with it before the sample upload: the same version id every time
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
SETTINGS_PREFIX = "HAVACHAT_"


def declared_variables(info: TemplateInfo) -> dict[str, Any]:
    """The environment variables the template declares for its functions (Globals', then each function's)."""
    declared = dict(info.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    for resource in info.resources(FUNCTION_TYPES).values():
        declared.update(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    if ENDPOINT_VARIABLE not in declared:
        raise ValueError(
            f"template.yaml declares no {ENDPOINT_VARIABLE}: `sam local invoke` would ignore the endpoint "
            "in --env-vars and the functions would call real AWS"
        )
    return declared


def parameter_defaults(info: TemplateInfo) -> dict[str, str]:
    return {name: str(p["Default"]) for name, p in info.template.get("Parameters", {}).items() if "Default" in p}


def template_settings(info: TemplateInfo) -> Settings:
    """The functions' settings with the template's parameter defaults, offline (no LLM, no secret).

    The declared `HAVACHAT_*` variables that name a parameter take its default; the others (resource
    names, the model the template picks by condition) are the local run's. This shell's `HAVACHAT_*`
    variables play no part: SAM would not pass them to a function either.
    """
    defaults = parameter_defaults(info)
    values: dict[str, Any] = {}
    for name, value in declared_variables(info).items():
        if name.startswith(SETTINGS_PREFIX) and isinstance(value, dict) and value.get("Ref") in defaults:
            values[name.removeprefix(SETTINGS_PREFIX).lower()] = defaults[value["Ref"]]
    values.update(provider=Provider.OFFLINE, anthropic_secret_name=None)
    with mock.patch.dict(os.environ):
        for name in [n for n in os.environ if n.startswith(SETTINGS_PREFIX)]:
            del os.environ[name]
        return Settings(**values)


def _variable(settings: Settings, name: str) -> str:
    """A `HAVACHAT_*` variable's value as pydantic-settings reads it back into `settings`."""
    value = getattr(settings, name.removeprefix(SETTINGS_PREFIX).lower())
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def env_vars(info: TemplateInfo, settings: Settings, endpoint: str) -> dict[str, dict[str, str]]:
    """The `--env-vars` document: every declared variable, for all functions (`Parameters`).

    `HAVACHAT_*` come from `settings`, `AWS_ENDPOINT_URL` is `endpoint`, the others are the
    template's values with the parameters at their defaults.
    """
    names = LocalNames(refs=parameter_defaults(info), attributes={}, conditions=info.template.get("Conditions", {}))
    values = {}
    for name, value in declared_variables(info).items():
        if name == ENDPOINT_VARIABLE:
            values[name] = endpoint
        elif name.startswith(SETTINGS_PREFIX):
            values[name] = _variable(settings, name)
        else:
            values[name] = str(resolve(value, names))
    return {"Parameters": values}


def write_env_vars(document: Mapping[str, Any], path: Path) -> None:
    """Write the file (crash-safe: a temp file, then a rename), so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def upload_sample(local: LocalPipeline) -> S3Object:
    """Put the sample vocab file at `SAMPLE_KEY` in the data bucket, with moto's random seeded first:
    the object gets the same version id on every start, the one `events/s3_object_created.json` names."""
    mock_random.seed(SAMPLE_SEED)
    return local.upload((local.root / SAMPLE_VOCAB).read_bytes(), SAMPLE_KEY)


@contextmanager
def local_pipeline(root: Path) -> Iterator[LocalPipeline]:
    """The template's resources on in-process moto, offline, with the settings the env-vars file gives."""
    info = TemplateInfo(root, load_template(root / "template.yaml"))
    with LocalPipeline(OfflineGenerator(), settings=template_settings(info), root=root) as local:
        yield local


def names_sample(root: Path, sample: S3Object) -> bool:
    """Whether `events/s3_object_created.json` names the `sample` object version (else `make events` is due)."""
    event = ObjectCreatedEvent.model_validate_json((root / SAMPLE_EVENT).read_text(encoding="utf-8"))
    named = event.uploaded_object()
    return (named.bucket, named.key, named.version_id, named.etag) == (
        sample.bucket,
        sample.key,
        sample.version_id,
        sample.etag,
    )


@dataclass
class LocalAws:
    local: LocalPipeline
    address: str  # where the server listens
    endpoint: str  # the server as the functions reach it
    sample: S3Object  # the sample vocab file's object version
    env_vars: dict[str, dict[str, str]]


@contextmanager
def local_aws(root: Path, *, host: str, port: int, endpoint_host: str) -> Iterator[LocalAws]:
    """The stack on moto, served on `host:port` (0: any free port); the functions reach it at `endpoint_host`."""
    with local_pipeline(root) as local:
        sample = upload_sample(local)
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        try:
            bound_host, bound_port = server.get_host_and_port()
            endpoint = f"http://{endpoint_host}:{bound_port}"
            document = env_vars(local.info, local.settings, endpoint)
            yield LocalAws(local, f"http://{bound_host}:{bound_port}", endpoint, sample, document)
        finally:
            server.stop()

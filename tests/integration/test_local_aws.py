"""`havachat local-aws`'s pieces: the server over the template's resources, the --env-vars file, the sample events.

The functions themselves under `sam local invoke`'s conditions: tests/sam_local (`make sam-local`).
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from havachat.settings import Provider, Settings
from havachat_local.local_aws import (
    SAMPLE_VOCAB,
    declared_variables,
    env_vars,
    local_aws,
    names_sample,
    template_settings,
)
from havachat_local.runner import REGION
from havachat_local.sample_events import committed, rendered
from havachat_local.template import TemplateInfo, load_template
from tests.helpers import EVENTS_DIR, ROOT


def test_the_server_serves_the_sample_upload_where_the_sample_event_points() -> None:
    with local_aws(ROOT, host="127.0.0.1", port=0, endpoint_host="host.docker.internal") as stack:
        # A signed GET through urllib, not boto3: moto's in-process mock would answer boto3 without the server
        url = f"{stack.address}/{stack.sample.bucket}/{stack.sample.key}"
        request = AWSRequest("GET", url)
        S3SigV4Auth(Credentials("any", "any"), "s3", REGION).add_auth(request)
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers))) as response:
            served = response.read()
            version = response.headers["x-amz-version-id"]

        assert served == (ROOT / SAMPLE_VOCAB).read_bytes()
        assert version == stack.sample.version_id
        assert names_sample(ROOT, stack.sample), "events/s3_object_created.json names the sample upload"
        assert stack.endpoint == f"http://host.docker.internal:{stack.address.rsplit(':', 1)[1]}"


def test_the_env_vars_file_sets_every_declared_variable_to_the_local_runs_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HAVACHAT_HOME")  # the tests' own (tests/conftest.py): a function's environment has none
    with local_aws(ROOT, host="127.0.0.1", port=0, endpoint_host="127.0.0.1") as stack:
        local = stack.local
        variables = stack.env_vars["Parameters"]

        # Every variable the template declares, and only those (SAM would ignore any other)
        assert set(variables) == set(declared_variables(local.info))
        assert variables["AWS_ENDPOINT_URL"] == stack.endpoint == stack.address
        assert variables["POWERTOOLS_LOG_LEVEL"] == local.info.parameter_default("LogLevel")

        # A function reading them gets the settings the server's own handlers run with (its region is
        # AWS_REGION's, which SAM sets)
        with mock.patch.dict(os.environ, variables):
            function_settings = Settings()
        assert function_settings == local.settings.model_copy(update={"anthropic_secret_name": "", "aws_region": None})
        assert function_settings.provider is Provider.OFFLINE
        assert function_settings.data_bucket == local.bucket == stack.sample.bucket
        assert function_settings.chunk_token_budget == int(local.info.parameter_default("ChunkTokenBudget"))


def test_the_settings_ignore_this_shells_havachat_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    info = TemplateInfo(ROOT, load_template(ROOT / "template.yaml"))
    monkeypatch.setenv("HAVACHAT_MAX_TOKENS", "999")
    monkeypatch.setenv("HAVACHAT_CHUNK_TOKEN_BUDGET", "999")

    settings = template_settings(info)

    assert settings.max_tokens == Settings.model_fields["max_tokens"].default
    assert settings.chunk_token_budget == int(info.parameter_default("ChunkTokenBudget"))


def test_a_template_that_does_not_declare_the_endpoint_is_refused() -> None:
    template: dict[str, Any] = load_template(ROOT / "template.yaml")
    del template["Globals"]["Function"]["Environment"]["Variables"]["AWS_ENDPOINT_URL"]
    info = TemplateInfo(ROOT, template)

    with pytest.raises(ValueError, match="would call real AWS"):
        env_vars(info, Settings(), "http://127.0.0.1:5000")


def test_the_committed_sample_events_are_what_a_local_run_writes() -> None:
    files = rendered(ROOT)

    current = committed(EVENTS_DIR, files)

    differ = sorted(name for name in files.keys() | current.keys() if files.get(name) != current.get(name))
    assert differ == [], f"events/ differs from a run in {differ}: run `make events`"
    assert {Path(name).parent.as_posix() for name in files} == {".", "batches"}

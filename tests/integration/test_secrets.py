"""The Anthropic key comes from Secrets Manager when a secret is configured, else from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from havachat.aws.secrets import anthropic_api_key
from havachat.settings import Settings


@pytest.fixture
def secretsmanager(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.mark.parametrize("stored", ["sk-ant-plain", '{"ANTHROPIC_API_KEY": "sk-ant-plain"}'])
def test_the_key_is_read_from_the_secret(secretsmanager: object, stored: str) -> None:
    name = f"havachat/test/{len(stored)}"
    secretsmanager.create_secret(Name=name, SecretString=stored)  # type: ignore[attr-defined]

    assert anthropic_api_key(Settings(anthropic_secret_name=name)) == "sk-ant-plain"


def test_no_secret_means_the_sdk_reads_the_environment() -> None:
    assert anthropic_api_key(Settings(anthropic_secret_name=None)) is None

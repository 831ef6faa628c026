"""A DEBUG log level writes no secret, prompt or vocabulary to the logs.

The Lambda runtime sets the root logger to the function's level (`LogLevel=DEBUG` in a dev stack):
this test does the same, then reads the API key from Secrets Manager and makes one Claude call, the
way GenerateBatch does, capturing every record any logger emits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from havachat.aws import observability
from havachat.aws.wiring import claude
from havachat.generation import LlmBatchGenerator
from havachat.models import Level, VocabItem, VocabList
from havachat.planning import plan_with_settings
from havachat.prompts import system_prompt
from havachat.settings import Settings
from tests.fakes.fake_claude import FakeClaude

SECRET = "sk-ant-api03-do-not-log-me"
WORDS = [VocabItem(word="秘密", romanization="mìmì", definition="a secret"), VocabItem(word="蛋糕", definition="cake")]


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()}")


@pytest.fixture
def debug_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    """The root logger at DEBUG, as the Lambda runtime sets it, with every record captured."""
    root = logging.getLogger()
    captured = Captured()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(captured)
    observability.logger.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(captured)
        root.setLevel(level)
        observability.logger.setLevel(logging.INFO)


def _one_call_reading_the_key_from_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> FakeClaude:
    """What GenerateBatch does: read the API key from Secrets Manager, make one Claude call (the fake, over HTTP)."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    fake = FakeClaude()
    settings = Settings(anthropic_secret_name="havachat/test/key", sdk_max_retries=0, provider="anthropic")
    vocab = VocabList(source="secret.csv", items=WORDS)
    plan = plan_with_settings(vocab, settings, run_id="log-test", language="zh", level=Level.parse("HSK1"))
    with mock_aws(), fake.serve() as url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        boto3.client("secretsmanager").create_secret(Name="havachat/test/key", SecretString=SECRET)
        generator = LlmBatchGenerator(claude(settings), settings.max_tokens)
        result = generator.generate_batch(plan.batches[0], WORDS, language="zh", level=plan.level, run_id="log-test")
    assert result.items and fake.requests
    return fake


def _leaks(lines: list[str]) -> list[str]:
    logged = "\n".join(lines)
    found = [SECRET] if SECRET in logged else []
    found += [word.word for word in WORDS if word.word in logged]
    return found + (["system prompt"] if system_prompt()[:80] in logged else [])


def test_debug_logs_hold_no_secret_prompt_or_vocabulary(debug_logs: Captured, monkeypatch: pytest.MonkeyPatch) -> None:
    _one_call_reading_the_key_from_secrets_manager(monkeypatch)

    assert _leaks(debug_logs.lines) == []


def test_without_quieting_the_libraries_the_same_call_would_leak_them(
    debug_logs: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the libraries at the root's level, as before observability quietened them
    levels = {name: logging.getLogger(name).level for name in observability.QUIET_LIBRARIES}
    try:
        for name in levels:
            logging.getLogger(name).setLevel(logging.NOTSET)
        _one_call_reading_the_key_from_secrets_manager(monkeypatch)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)

    # Then the key and the vocabulary reach the logs: what the first test proves does not happen
    assert SECRET in _leaks(debug_logs.lines) and "秘密" in _leaks(debug_logs.lines)

"""The LLM adapter through the real anthropic SDK and instructor, faked only at HTTP (no sockets)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import anthropic
import httpx2
import pytest

from havachat.errors import (
    LlmInvalidOutput,
    LlmOutputTruncated,
    LlmRequestRejected,
    LlmThrottled,
    LlmUnavailable,
    MissingCredentials,
)
from havachat.llm import InstructorClaude, make_llm
from havachat.llm_port import LlmRequest
from havachat.settings import Provider, Settings
from tests.fakes.fake_claude import FakeClaude

MODEL = "claude-sonnet-4-6"
WORDS = [
    {"word": "爱", "romanization": "ài", "definition": "to love"},
    {"word": "八", "romanization": "bā", "definition": "eight"},
    {"word": "爸爸", "romanization": "bàba", "definition": "dad"},
    {"word": "杯子", "romanization": "bēizi", "definition": "cup"},
]


def make_request(words: list[dict[str, str]] = WORDS, low: int = 2, high: int = 3) -> LlmRequest:
    vocabulary = "\n".join(json.dumps(w, ensure_ascii=False) for w in words)
    user = (
        f"Category: pronunciation\nWrite between {low} and {high} items.\n"
        f"<vocabulary>\n{vocabulary}\n</vocabulary>\nAnswer with the LearningItemBatch tool."
    )
    return LlmRequest(system="You write language-learning items. " * 20, user=user, max_tokens=2000)


def claude(fake: FakeClaude, *, sdk_retries: int = 2, validation_retries: int = 2) -> InstructorClaude:
    return InstructorClaude(
        fake.client(max_retries=sdk_retries), model=MODEL, validation_max_retries=validation_retries
    )


def test_answer_is_parsed_and_usage_shows_cache_write_then_read() -> None:
    fake = FakeClaude()
    llm = claude(fake)

    first = llm.generate(make_request())
    second = llm.generate(make_request(WORDS[:2], 1, 2))

    assert 2 <= len(first.batch.items) <= 3
    assert {w for item in first.batch.items for w in item.source_words} <= {w["word"] for w in WORDS}
    assert all(len(item.examples) == 2 for item in first.batch.items)
    assert len(first.attempts) == len(second.attempts) == 1
    write, read = first.attempts[0], second.attempts[0]
    assert write.cache_write_tokens > 0 and write.cache_read_tokens == 0
    assert read.cache_read_tokens == write.cache_write_tokens and read.cache_write_tokens == 0
    assert write.input_tokens > 0 and write.output_tokens > 0 and write.latency_ms > 0
    assert (write.input_tokens, write.output_tokens) == (
        fake.usages[0]["input_tokens"],
        fake.usages[0]["output_tokens"],
    )
    assert write.model == MODEL
    sent = fake.requests[0]
    assert sent["system"] == [{"type": "text", "text": make_request().system, "cache_control": {"type": "ephemeral"}}]
    assert sent["tool_choice"]["name"] == "LearningItemBatch"
    assert sent["max_tokens"] == 2000 and sent["model"] == MODEL


def test_invalid_answer_is_reasked_once_and_both_attempts_are_counted() -> None:
    fake = FakeClaude().script(invalid=True)

    answer = claude(fake).generate(make_request())

    assert len(fake.requests) == 2
    assert fake.requests[1]["messages"][-1]["content"][0]["type"] == "tool_result"
    assert len(answer.attempts) == 2
    assert [a.output_tokens for a in answer.attempts] == [u["output_tokens"] for u in fake.usages]
    assert answer.attempts[1].cache_read_tokens > 0


def test_invalid_every_time_raises_invalid_output_with_usage_of_all_attempts() -> None:
    fake = FakeClaude().script(invalid=True, times=5)

    with pytest.raises(LlmInvalidOutput, match="failed validation on all 3 attempts") as raised:
        claude(fake, validation_retries=2).generate(make_request())

    assert len(fake.requests) == 3
    assert len(raised.value.usage) == 3
    assert sum(u.output_tokens for u in raised.value.usage) == sum(u["output_tokens"] for u in fake.usages)


def test_truncated_answer_raises_at_once_without_burning_a_validation_retry() -> None:
    fake = FakeClaude().script(truncated=True)

    with pytest.raises(LlmOutputTruncated) as raised:
        claude(fake).generate(make_request())

    assert len(fake.requests) == 1
    assert [u.output_tokens for u in raised.value.usage] == [2000]


def test_rate_limit_is_retried_by_the_sdk_and_then_succeeds() -> None:
    fake = FakeClaude().script(status=429, headers={"retry-after": "0"})

    answer = claude(fake, sdk_retries=2).generate(make_request())

    assert len(fake.requests) == 2
    assert len(answer.attempts) == 1  # one instructor attempt; the SDK retried inside it
    assert answer.batch.items


def test_rate_limit_after_sdk_retries_raises_throttled() -> None:
    fake = FakeClaude().script(status=429, times=3)

    with pytest.raises(LlmThrottled, match="429") as raised:
        claude(fake, sdk_retries=2).generate(make_request())

    assert len(fake.requests) == 3
    assert raised.value.usage == []


def test_overloaded_until_sdk_retries_run_out_raises_unavailable() -> None:
    sdk_retries = 2
    fake = FakeClaude().script(status=529, times=10)

    with pytest.raises(LlmUnavailable, match="529"):
        claude(fake, sdk_retries=sdk_retries).generate(make_request())

    assert len(fake.requests) == sdk_retries + 1


def test_overload_after_a_reask_keeps_the_usage_of_the_wasted_attempt() -> None:
    fake = FakeClaude().script(invalid=True).script(status=529)

    with pytest.raises(LlmUnavailable) as raised:
        claude(fake, sdk_retries=0).generate(make_request())

    assert len(fake.requests) == 2
    assert [u.output_tokens for u in raised.value.usage] == [fake.usages[0]["output_tokens"]]


def test_connection_errors_raise_unavailable() -> None:
    fake = FakeClaude().script(error=httpx2.ConnectError("connection refused"), times=2)

    with pytest.raises(LlmUnavailable, match="cannot reach Anthropic"):
        claude(fake, sdk_retries=1).generate(make_request())

    assert len(fake.requests) == 2


def test_bad_api_key_is_rejected_without_retry() -> None:
    fake = FakeClaude().script(status=401)

    with pytest.raises(LlmRequestRejected, match=r"Anthropic rejected the API key \(401\)"):
        claude(fake, sdk_retries=2).generate(make_request())

    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (400, None, LlmRequestRejected),
        (403, None, LlmRequestRejected),
        (404, None, LlmRequestRejected),
        (413, None, LlmRequestRejected),
        (402, "linked_organization_spend_limit_reached", LlmRequestRejected),
        (429, "enforced_spend_limit_reached", LlmRequestRejected),
        (500, None, LlmUnavailable),
        (503, None, LlmUnavailable),
    ],
)
def test_status_codes_map_to_named_errors(status: int, error: str | None, expected: type[Exception]) -> None:
    body = None
    if error:
        body = {
            "type": "error",
            "error": {"type": "billing_error", "message": "limit", "details": {"error_code": error}},
        }
    fake = FakeClaude().script(status=status, body=body, headers={"x-should-retry": "false"})

    with pytest.raises(expected, match=str(status)) as raised:
        claude(fake, sdk_retries=2).generate(make_request())

    assert len(fake.requests) == 1
    if error:
        assert "spend limit" in str(raised.value)


def test_parallel_calls_keep_their_usage_apart() -> None:
    fake = FakeClaude(latency_s=0.02).script(invalid=True, match="Category: idiom")
    llm = claude(fake)
    requests = [make_request() for _ in range(6)]
    idiom = LlmRequest(requests[0].system, requests[0].user.replace("pronunciation", "idiom"), 2000)

    with ThreadPoolExecutor(max_workers=7) as pool:
        answers = list(pool.map(llm.generate, [*requests, idiom]))

    assert [len(a.attempts) for a in answers] == [1] * 6 + [2]
    assert sum(len(a.attempts) for a in answers) == len(fake.requests) == 8


def test_the_fake_answers_prompts_built_by_the_prompts_module() -> None:
    from havachat import prompts
    from havachat.models import Category, Level, VocabItem

    words = [VocabItem(word=w["word"], romanization=w["romanization"], definition=w["definition"]) for w in WORDS]
    request = prompts.build_request(Category.CULTURAL, "zh", Level.parse("HSK1"), words, 2, 3, 4000)
    fake = FakeClaude()

    answer = claude(fake).generate(request)

    assert 2 <= len(answer.batch.items) <= 3
    assert {w for item in answer.batch.items for w in item.source_words} <= {w.word for w in words}


def test_make_llm_without_a_key_raises_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)

    with pytest.raises(MissingCredentials, match=r"ANTHROPIC_API_KEY.*bedrock"):
        make_llm(Settings(provider=Provider.ANTHROPIC))


def test_make_llm_honours_base_url_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://claude.internal:8080")
    settings = Settings(
        model="claude-haiku-4-5", sdk_max_retries=5, validation_max_retries=1, request_timeout_seconds=30
    )

    llm = make_llm(settings)

    raw = llm._client.client
    assert isinstance(raw, anthropic.Anthropic)
    assert str(raw.base_url).rstrip("/") == "http://claude.internal:8080"
    assert (raw.api_key, raw.max_retries, raw.timeout) == ("from-env", 5, 30)
    assert (llm.model, llm.validation_max_retries) == ("claude-haiku-4-5", 1)


def test_make_llm_with_an_http_client_talks_to_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    fake = FakeClaude()

    answer = make_llm(Settings(model=MODEL), api_key="explicit", http_client=fake.http_client()).generate(
        make_request()
    )

    assert answer.batch.items and len(fake.requests) == 1


def test_make_llm_builds_a_bedrock_client_without_calling_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    settings = Settings(provider=Provider.BEDROCK, aws_region="eu-west-1", sdk_max_retries=4)

    llm = make_llm(settings)

    raw = llm._client.client
    assert isinstance(raw, anthropic.AnthropicBedrock)
    assert "eu-west-1" in str(raw.base_url) and raw.max_retries == 4


def test_bedrock_without_aws_credentials_raises_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    fake = FakeClaude()
    settings = Settings(provider=Provider.BEDROCK, model=MODEL, aws_region="us-east-1", sdk_max_retries=0)

    with pytest.raises(MissingCredentials, match="AWS credentials"):
        make_llm(settings, http_client=fake.http_client()).generate(make_request())

    assert fake.requests == []


def _chunk_requests(categories: list[str]) -> list[LlmRequest]:
    from havachat import prompts
    from havachat.models import Category, Level, VocabItem

    words = [VocabItem(word=w["word"], romanization=w["romanization"], definition=w["definition"]) for w in WORDS]
    level = Level.parse("HSK1")
    return [prompts.build_request(Category(c), "zh", level, words, 2, 3, 4000) for c in categories]


def test_a_chunk_call_caches_system_and_vocabulary_as_two_breakpoints_and_only_the_instruction_is_fresh() -> None:
    fake = FakeClaude()
    llm = claude(fake)
    cultural, idiom = _chunk_requests(["cultural", "idiom"])

    first, second = llm.generate(cultural).attempts[0], llm.generate(idiom).attempts[0]

    sent = fake.requests[0]
    assert sent["system"][-1]["cache_control"] == {"type": "ephemeral"}
    shared, instruction = sent["messages"][0]["content"]
    assert shared == {"type": "text", "text": cultural.shared, "cache_control": {"type": "ephemeral"}}
    assert instruction == {"type": "text", "text": cultural.user}
    assert (fake.requests[1]["tools"], fake.requests[1]["tool_choice"]) == (sent["tools"], sent["tool_choice"])
    assert first.cache_read_tokens == 0 and first.cache_write_tokens > 0
    # the second category reads everything the first wrote: tools, system and the chunk's vocabulary
    assert second.cache_read_tokens == first.cache_write_tokens and second.cache_write_tokens == 0
    assert second.input_tokens < second.cache_read_tokens / 5


def test_warm_writes_the_shared_prefix_with_one_output_token_and_every_category_then_reads_it() -> None:
    from havachat import prompts
    from havachat.models import Level, VocabItem

    fake = FakeClaude()
    llm = claude(fake)
    requests = _chunk_requests(["cultural", "idiom", "pattern"])
    words = [VocabItem(word=w["word"], romanization=w["romanization"], definition=w["definition"]) for w in WORDS]

    [warm] = llm.warm(prompts.build_shared_request("zh", Level.parse("HSK1"), words))
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(llm.generate, requests))

    assert warm.output_tokens == 1 and warm.cache_write_tokens > 0 and warm.cache_read_tokens == 0
    [warm_up] = fake.warm_ups
    assert warm_up["max_tokens"] == 1 and len(fake.requests) == 3
    assert warm_up["messages"][0]["content"] == [fake.requests[0]["messages"][0]["content"][0]]
    assert (warm_up["tools"], warm_up["tool_choice"]) == (fake.requests[0]["tools"], fake.requests[0]["tool_choice"])
    assert [a.attempts[0].cache_read_tokens for a in answers] == [warm.cache_write_tokens] * 3
    assert all(a.attempts[0].cache_write_tokens == 0 for a in answers)


def test_calls_in_flight_together_each_write_the_cache_as_the_api_does() -> None:
    # An entry is readable only once the request that wrote it is answered: without a warm-up, a
    # parallel first wave all pays the write.
    arrived = threading.Barrier(3)

    class TogetherClaude(FakeClaude):
        def handle(self, request: httpx2.Request) -> httpx2.Response:
            arrived.wait(timeout=10)  # all three are in flight before any is answered
            return super().handle(request)

    fake = TogetherClaude(latency_s=0.2)
    llm = claude(fake)

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(llm.generate, _chunk_requests(["cultural", "idiom", "pattern"])))

    assert all(a.attempts[0].cache_read_tokens == 0 < a.attempts[0].cache_write_tokens for a in answers)


def test_a_failed_warm_up_raises_the_named_error_with_no_usage() -> None:
    from havachat import prompts
    from havachat.models import Level, VocabItem

    fake = FakeClaude().script(status=529, times=3, warm_up=True)
    request = prompts.build_shared_request("zh", Level.parse("HSK1"), [VocabItem(word="爱")])

    with pytest.raises(LlmUnavailable) as raised:
        claude(fake, sdk_retries=2).warm(request)

    assert raised.value.usage == [] and len(fake.warm_ups) == 3 and fake.requests == []


def test_warm_needs_a_shared_block() -> None:
    with pytest.raises(ValueError, match="no shared block"):
        claude(FakeClaude()).warm(make_request())

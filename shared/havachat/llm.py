"""The LLM adapter: Claude through `instructor`, on the Anthropic API or on Amazon Bedrock.

The only module that imports `anthropic` and `instructor` (about 2 s of imports): Plan and
Finalize never import it. It implements `havachat.llm_port.StructuredLlm`, `StructuredContentLlm` and
(on the Anthropic API) `MessageBatcher`.

Retries are layered on purpose and none of them is repeated here:
- the SDK retries 408/409/429/5xx/529 and transport errors `sdk_max_retries` times, honouring
  `retry-after`;
- instructor re-asks `validation_max_retries` times, only when the answer fails validation;
- an answer cut off at `max_tokens` is never re-asked (`LlmOutputTruncated`: the caller splits);
- whatever is left is raised as a named `havachat.errors.Llm*` error for Step Functions.

Usage is recorded per instructor attempt (one HTTP response each) from instructor's
`completion:response` hook, because the usage instructor reports is summed over attempts.
Hooks are registered per call (`create(..., hooks=...)`), so one `InstructorClaude` can serve
batches running in parallel threads.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import anthropic
import instructor
import pydantic
from anthropic.types.shared import (
    ContractSpendLimitReachedError,
    EnforcedSpendLimitReachedError,
    LinkedOrganizationSpendLimitReachedError,
)
from instructor.core import Hooks, IncompleteOutputException, InstructorRetryException

from havachat.errors import (
    LlmError,
    LlmInvalidOutput,
    LlmOutputTruncated,
    LlmRequestRejected,
    LlmThrottled,
    LlmUnavailable,
    MissingCredentials,
)
from havachat.ledger import CallUsage
from havachat.llm_port import LlmAnswer, LlmRequest, ModelT, StructuredAnswer
from havachat.models import LearningItemBatch
from havachat.settings import Provider, Settings

RawClient = anthropic.Anthropic | anthropic.AnthropicBedrock


@dataclass(frozen=True)
class AwsCredentials:
    """Explicit AWS credentials for Bedrock; all None means the default chain."""

    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None


# What instructor re-asks on (instructor.v2.core.retry._RETRYABLE_PARSE_ERRORS).
_PARSE_ERRORS: tuple[type[Exception], ...] = (
    pydantic.ValidationError,
    json.JSONDecodeError,
    instructor.core.ValidationError,
    instructor.core.ResponseParsingError,
)
_SPEND_LIMIT_ERRORS: tuple[type[anthropic.APIStatusError], ...] = (
    EnforcedSpendLimitReachedError,
    ContractSpendLimitReachedError,
    LinkedOrganizationSpendLimitReachedError,
    anthropic.PaymentRequiredError,
)


class InstructorClaude:
    """One structured call per request: prefix cached (system, then the request's `shared` block), answer
    validated as `LearningItemBatch` (`generate`) or any pydantic model (`generate_structured`, Stage 2);
    `warm` writes a shared prefix's cache ahead of the calls that read it.

    `client` is an `instructor.Instructor` built with `instructor.from_anthropic`, or a raw
    `anthropic.Anthropic` / `anthropic.AnthropicBedrock` client (wrapped here). Thread safe.
    """

    def __init__(
        self,
        client: instructor.Instructor | RawClient,
        model: str,
        validation_max_retries: int = 2,
    ) -> None:
        if isinstance(client, anthropic.Anthropic | anthropic.AnthropicBedrock):
            client = instructor.from_anthropic(client)
        if not isinstance(client, instructor.Instructor) or isinstance(client, instructor.AsyncInstructor):
            raise TypeError(f"expected a sync instructor client or anthropic client, got {type(client)!r}")
        self._client = client
        self.model = model
        self.validation_max_retries = validation_max_retries
        self._service = "Bedrock" if isinstance(client.client, anthropic.AnthropicBedrock) else "Anthropic"

    def generate(self, request: LlmRequest) -> LlmAnswer:
        """One category batch call, answered as a validated `LearningItemBatch`."""
        batch, attempts = self._create(request, LearningItemBatch)
        return LlmAnswer(batch=batch, attempts=attempts)

    def generate_structured(self, request: LlmRequest, response_model: type[ModelT]) -> StructuredAnswer[ModelT]:
        """The same call for any response model (Stage 2 content): same caching, retries, errors and usage."""
        value, attempts = self._create(request, response_model)
        return StructuredAnswer(value=value, attempts=attempts)

    def warm(
        self, request: LlmRequest, response_model: type[pydantic.BaseModel] = LearningItemBatch
    ) -> list[CallUsage]:
        """Write the prompt cache of `request`'s shared prefix before the calls that read it.

        The call sends exactly what `generate` / `generate_structured` send up to the second breakpoint
        (the same tool and tool_choice, system prompt and `shared` block) and stops after one output
        token: one cache write, the price of one token out. Its usage is returned; errors are raised
        as for any call.
        """
        if not request.shared:
            raise ValueError("nothing to warm: the request has no shared block")
        try:
            _, attempts = self._create(replace(request, user="", max_tokens=1), response_model)
        except LlmOutputTruncated as stopped:  # the expected end: cut off after its first token
            return [u for u in stopped.usage if isinstance(u, CallUsage)]
        return attempts

    # -- the Message Batches API (half price, answered within 24 h) ---------------------------------

    def submit_batch(self, requests: Mapping[str, LlmRequest], response_model: type[pydantic.BaseModel]) -> str:
        """Submit `requests` (by custom id) as one Message Batch; returns its id.

        Each request's params are what `_create` sends for its first attempt (instructor's own request
        preparation: tool, tool_choice, the same cached system and `shared` blocks). Bedrock has no
        Message Batches API: `LlmRequestRejected`.
        """
        batches = self._batches()
        entries: list[Any] = [
            {"custom_id": custom_id, "params": self.batch_params(request, response_model)}
            for custom_id, request in requests.items()
        ]
        try:
            return batches.create(requests=entries).id
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, []) from exc

    def batch_status(self, batch_id: str) -> str:
        """The Message Batch's `processing_status`: in_progress, canceling or ended."""
        try:
            return self._batches().retrieve(batch_id).processing_status
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, []) from exc

    def cancel_batch(self, batch_id: str) -> str:
        """Cancel the Message Batch (its `processing_status` becomes canceling, then ended)."""
        try:
            return self._batches().cancel(batch_id).processing_status
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, []) from exc

    def batch_results(
        self, batch_id: str, response_model: type[ModelT]
    ) -> Iterator[tuple[str, StructuredAnswer[ModelT] | LlmError]]:
        """Each request's answer by custom id, parsed and validated by instructor as `_create` parses it, or
        the `Llm*` error it would have raised (no re-ask: the caller retries through the sync path).

        Usage is marked `batch` (half price). Errored, expired and canceled requests are not billed.
        """
        prepared, _ = self._prepare(response_model, {})
        try:
            for entry in self._batches().results(batch_id):
                yield entry.custom_id, self._batch_answer(entry.result, prepared)
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, []) from exc

    def batch_params(self, request: LlmRequest, response_model: type[pydantic.BaseModel]) -> dict[str, Any]:
        """The Messages API params of `request`'s first attempt, as instructor prepares them."""
        _, params = self._prepare(response_model, self._request_kwargs(request))
        return params

    def _batches(self) -> Any:
        raw = self._client.client
        if not isinstance(raw, anthropic.Anthropic):
            raise LlmRequestRejected(f"{self._service} has no Message Batches API: use --llm-mode sync")
        return raw.messages.batches

    def _prepare(self, response_model: type[Any], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from instructor.processing.response import handle_response_model  # see _batch_answer

        return handle_response_model(response_model, mode=self._client.mode, provider=self._client.provider, **kwargs)

    def _batch_answer(self, result: Any, response_model: type[ModelT]) -> StructuredAnswer[ModelT] | LlmError:
        if result.type != "succeeded":
            errored = result.type == "errored"
            detail = result.error.error.message if errored else _UNANSWERED.get(result.type, result.type)
            kind = result.error.error.type if errored else result.type
            error = LlmRequestRejected if kind == "invalid_request_error" else LlmUnavailable
            return error(f"{self._service} Message Batch request {result.type} ({kind}): {detail}", usage=[])
        message = result.message
        usage = message.usage
        attempts = [
            CallUsage(
                model=self.model,
                input_tokens=usage.input_tokens or 0,
                output_tokens=usage.output_tokens or 0,
                cache_write_tokens=usage.cache_creation_input_tokens or 0,
                cache_read_tokens=usage.cache_read_input_tokens or 0,
                batch=True,
            )
        ]
        # Imported here, not at the top: the module loads openai's types (~0.9 s), which only building the
        # instructor client (`instructor.from_anthropic`, at a handler's first call) loads otherwise.
        from instructor.processing.response import process_response

        try:
            value = process_response(
                message,
                response_model=response_model,
                stream=False,
                mode=self._client.mode,
                provider=self._client.provider,
            )
        except IncompleteOutputException:
            return LlmOutputTruncated("the answer was cut off at max_tokens", usage=attempts)
        except _PARSE_ERRORS as exc:
            return LlmInvalidOutput(f"the answer failed validation: {_summary(exc)}", usage=attempts)
        return StructuredAnswer(value=value, attempts=attempts)

    def _request_kwargs(self, request: LlmRequest) -> dict[str, Any]:
        messages: list[Any] = [{"role": "user", "content": _user_content(request)}]  # Anthropic's blocks
        return {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "system": [{"type": "text", "text": request.system, "cache_control": _EPHEMERAL}],
            "messages": messages,
        }

    def _create(self, request: LlmRequest, response_model: type[ModelT]) -> tuple[ModelT, list[CallUsage]]:
        attempts: list[CallUsage] = []
        hooks = self._usage_hooks(attempts)
        try:
            value = self._client.create(
                response_model=response_model,
                max_retries=self.validation_max_retries,
                hooks=hooks,
                **self._request_kwargs(request),
            )
        except IncompleteOutputException as exc:
            raise LlmOutputTruncated(
                f"the answer was cut off at max_tokens={request.max_tokens}", usage=list(attempts)
            ) from exc
        except InstructorRetryException as exc:
            cause = exc.__cause__
            if isinstance(cause, anthropic.AnthropicError):
                raise self._translate(cause, attempts) from exc
            if cause is None or isinstance(cause, _PARSE_ERRORS):
                raise LlmInvalidOutput(
                    f"the answer failed validation on all {exc.n_attempts} attempts; last error: "
                    f"{_summary(cause or exc)}",
                    usage=list(attempts),
                ) from exc
            if isinstance(cause, RuntimeError) and "credentials" in str(cause).lower():
                # AnthropicBedrock signs each request and raises a bare RuntimeError without AWS credentials.
                raise MissingCredentials(f"{self._service}: {cause}") from exc
            raise  # neither the API nor the answer: a bug or a setup problem, left as instructor raised it
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, attempts) from exc
        return value, attempts

    def _usage_hooks(self, attempts: list[CallUsage]) -> Hooks:
        """Hooks for one call that append one `CallUsage` per answered attempt to `attempts`.

        Latency runs from instructor's `completion:kwargs` (just before the SDK call) to
        `completion:response`, so it includes the SDK's own retries and back-off for that attempt
        (HTTP errors the SDK retried report no tokens and add no entry).
        The integers are copied at once: instructor later rewrites the last response's `.usage`
        in place into the running total.
        """
        started: list[float] = []

        def on_kwargs(*_args: Any, **_kwargs: Any) -> None:
            started.append(time.perf_counter())

        def on_response(response: Any) -> None:
            latency_ms = (time.perf_counter() - started[-1]) * 1000 if started else 0.0
            usage = getattr(response, "usage", None)
            attempts.append(
                CallUsage(
                    model=self.model,
                    input_tokens=getattr(usage, "input_tokens", 0) or 0,
                    output_tokens=getattr(usage, "output_tokens", 0) or 0,
                    cache_write_tokens=getattr(usage, "cache_creation_input_tokens", 0) or 0,
                    cache_read_tokens=getattr(usage, "cache_read_input_tokens", 0) or 0,
                    latency_ms=round(latency_ms, 3),
                )
            )

        hooks = Hooks()
        hooks.on("completion:kwargs", on_kwargs)
        hooks.on("completion:response", on_response)
        return hooks

    def _translate(self, exc: anthropic.AnthropicError, attempts: list[CallUsage]) -> LlmError:
        """The named error for an SDK error that survived the SDK's own retries."""
        usage = list(attempts)
        service = self._service
        if isinstance(exc, _SPEND_LIMIT_ERRORS):
            return LlmRequestRejected(
                f"{service} refused the request: spend limit reached ({exc.status_code}): {_detail(exc)}",
                usage=usage,
            )
        if isinstance(exc, anthropic.RateLimitError):
            return LlmThrottled(f"{service} rate limit (429) after the SDK's retries: {_detail(exc)}", usage=usage)
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            if status >= 500 or status in (408, 409):
                return LlmUnavailable(f"{service} unavailable ({status}): {_detail(exc)}", usage=usage)
            reason = {
                400: "rejected the request",
                401: "rejected the API key",
                403: "denied permission for this key, model or region",
                404: f"does not know the model '{self.model}' or endpoint",
                413: "rejected the request as too large",
            }.get(status, "rejected the request")
            return LlmRequestRejected(f"{service} {reason} ({status}): {_detail(exc)}", usage=usage)
        if isinstance(exc, anthropic.APITimeoutError):
            return LlmUnavailable(f"{service} request timed out after the SDK's retries", usage=usage)
        if isinstance(exc, anthropic.APIConnectionError):
            return LlmUnavailable(f"cannot reach {service}: {_first_line(exc)}", usage=usage)
        if isinstance(exc, anthropic.APIError):  # e.g. a response body that does not parse
            return LlmUnavailable(f"{service} returned an unusable response: {_first_line(exc)}", usage=usage)
        return LlmRequestRejected(f"{service} client error: {_first_line(exc)}", usage=usage)


def make_llm(
    settings: Settings,
    *,
    api_key: str | None = None,
    http_client: Any = None,
    aws_credentials: AwsCredentials | None = None,
) -> InstructorClaude:
    """The configured adapter.

    Anthropic: the key is `api_key` or `ANTHROPIC_API_KEY` (`ANTHROPIC_AUTH_TOKEN` also works);
    the SDK honours `ANTHROPIC_BASE_URL`. Bedrock: AWS credentials come from the usual chain,
    the region from `settings.aws_region` (else `AWS_REGION`), unless `aws_credentials` pins them
    (the local runner resolves them before moto replaces the environment's). `http_client` is an
    `httpx2.Client` (tests pass one with a `MockTransport`).
    """
    common: dict[str, Any] = {
        "timeout": settings.request_timeout_seconds,
        "max_retries": settings.sdk_max_retries,
        "http_client": http_client,
    }
    raw: RawClient
    if settings.provider is Provider.BEDROCK:
        pinned = aws_credentials or AwsCredentials()
        raw = anthropic.AnthropicBedrock(
            aws_region=settings.aws_region,
            aws_access_key=pinned.access_key,
            aws_secret_key=pinned.secret_key,
            aws_session_token=pinned.session_token,
            **common,
        )
    else:
        # The SDK reads these variables itself; they are checked here only to fail early and clearly.
        if not (api_key or os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
            raise MissingCredentials(
                "No Anthropic API key: set ANTHROPIC_API_KEY, or use --provider bedrock "
                "(HAVACHAT_PROVIDER=bedrock) with AWS credentials."
            )
        raw = anthropic.Anthropic(api_key=api_key, **common)
    return InstructorClaude(
        instructor.from_anthropic(raw),
        model=settings.model,
        validation_max_retries=settings.validation_max_retries,
    )


_EPHEMERAL = {"type": "ephemeral"}
_UNANSWERED = {"expired": "no answer within 24 hours", "canceled": "the Message Batch was canceled"}


def _user_content(request: LlmRequest) -> str | list[dict[str, Any]]:
    """The user message: the `shared` block as a second cache breakpoint, then the call's own text."""
    if not request.shared:
        return request.user
    blocks: list[dict[str, Any]] = [{"type": "text", "text": request.shared, "cache_control": _EPHEMERAL}]
    if request.user:
        blocks.append({"type": "text", "text": request.user})
    return blocks


def _detail(exc: anthropic.APIStatusError) -> str:
    return exc.api_message or _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def _summary(exc: BaseException, limit: int = 500) -> str:
    """A validation error on one line, without pydantic's documentation links."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and "errors.pydantic.dev" not in line]
    return " | ".join(lines)[:limit] or type(exc).__name__

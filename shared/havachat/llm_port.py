"""What the domain needs from an LLM, without importing one: a request in, a validated model out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from havachat.errors import LlmError
from havachat.ledger import CallUsage
from havachat.models import LearningItemBatch

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class LlmRequest:
    """One structured call: a stable system prompt (cached), an optional `shared` start of the user
    message (cached too: what the calls of one chunk share) and the call's own `user` text."""

    system: str
    user: str
    max_tokens: int
    shared: str = ""


@dataclass
class LlmAnswer:
    batch: LearningItemBatch
    attempts: list[CallUsage] = field(default_factory=list)


@dataclass
class StructuredAnswer(Generic[ModelT]):
    """A validated answer of any response model and the usage of every attempt it took."""

    value: ModelT
    attempts: list[CallUsage] = field(default_factory=list)


class StructuredLlm(Protocol):
    """Returns a validated `LearningItemBatch` or raises one of the `havachat.errors.Llm*` errors.

    Every error carries the usage of the attempts it wasted in `.usage` (a list of `CallUsage`).
    """

    model: str

    def generate(self, request: LlmRequest) -> LlmAnswer: ...


@runtime_checkable
class CacheWarmer(Protocol):
    """An LLM whose prompt cache can be written ahead of the calls that will read it."""

    def warm(self, request: LlmRequest, response_model: type[BaseModel] = LearningItemBatch) -> list[CallUsage]:
        """Write the cache of `request`'s prefix (the tool of `response_model`, system, `shared`) with a
        one-token call; returns its usage."""
        ...


class StructuredContentLlm(Protocol):
    """Like `StructuredLlm`, for any pydantic response model (Stage 2 content); same errors, same usage."""

    model: str

    def generate_structured(self, request: LlmRequest, response_model: type[ModelT]) -> StructuredAnswer[ModelT]: ...


@runtime_checkable
class MessageBatcher(Protocol):
    """An LLM that answers many requests at once, asynchronously and at half price (the Message Batches API).

    Every method raises the `havachat.errors.Llm*` errors; a request's own failure comes back as its result.
    """

    model: str

    def submit_batch(self, requests: Mapping[str, LlmRequest], response_model: type[BaseModel]) -> str:
        """Submit the requests (keyed by custom id) as one batch; returns its id."""
        ...

    def batch_status(self, batch_id: str) -> str:
        """in_progress, canceling, or ended (then every result is ready)."""
        ...

    def cancel_batch(self, batch_id: str) -> str:
        """Stop the batch: requests not yet processed end `canceled`, unbilled. Returns its new status."""
        ...

    def batch_results(
        self, batch_id: str, response_model: type[ModelT]
    ) -> Iterator[tuple[str, StructuredAnswer[ModelT] | LlmError]]:
        """Each request's validated answer (usage marked `batch`), or the error it ended with, by custom id."""
        ...

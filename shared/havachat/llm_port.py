"""What the domain needs from an LLM, without importing one: a request in, a validated batch out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from havachat.ledger import CallUsage
from havachat.models import LearningItemBatch


@dataclass(frozen=True)
class LlmRequest:
    """One structured call: a stable system prefix (cached) and the category's user message."""

    system: str
    user: str
    max_tokens: int


@dataclass
class LlmAnswer:
    batch: LearningItemBatch
    attempts: list[CallUsage] = field(default_factory=list)


class StructuredLlm(Protocol):
    """Returns a validated `LearningItemBatch` or raises one of the `havachat.errors.Llm*` errors.

    Every error carries the usage of the attempts it wasted in `.usage` (a list of `CallUsage`).
    """

    model: str

    def generate(self, request: LlmRequest) -> LlmAnswer: ...

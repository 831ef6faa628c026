"""Named errors. Their class names double as Step Functions error names in Retry and Catch."""

from __future__ import annotations

from dataclasses import dataclass


def printable(text: str) -> str:
    """`text` with what a terminal or UTF-8 cannot show as it is (controls, invisible format characters,
    lone surrogates) escaped, e.g. `\\u200b`, so a message can quote any input."""
    return text if text.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


class HavachatError(Exception):
    """Base of every error the pipeline raises on purpose."""


@dataclass(frozen=True)
class VocabProblem:
    """One thing wrong with a vocab file, located as precisely as the format allows."""

    file: str
    problem: str
    row: int | None = None
    column: str | None = None

    def __post_init__(self) -> None:
        """The texts quote the input: escape what cannot be printed or encoded (`printable`)."""
        object.__setattr__(self, "file", printable(self.file))
        object.__setattr__(self, "problem", printable(self.problem))
        if self.column is not None:
            object.__setattr__(self, "column", printable(self.column))

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.problem}"


class InvalidVocabFile(HavachatError):
    """The file was rejected as a whole; nothing from it is used."""

    def __init__(self, problems: list[VocabProblem]) -> None:
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{shown}{more}")


class LlmError(HavachatError):
    """An LLM call failed after the layers of retry it is entitled to."""

    def __init__(self, message: str, *, usage: list[object] | None = None) -> None:
        super().__init__(message)
        self.usage = usage or []


class LlmThrottled(LlmError):
    """429 after the SDK's retries: Step Functions retries later with backoff."""


class LlmUnavailable(LlmError):
    """Overloaded (529), 5xx, timeouts or connection errors after SDK retries; Step Functions retries."""


class LlmRequestRejected(LlmError):
    """400, 401, 403, 404 or an exhausted spend limit: retrying cannot help."""


class LlmInvalidOutput(LlmError):
    """The answer failed validation on every re-ask."""


class LlmOutputTruncated(LlmError):
    """The answer hit max_tokens; the caller splits the chunk instead of re-asking."""


class MissingCredentials(HavachatError):
    """No way to reach an LLM was configured."""


class NeedsLlm(HavachatError):
    """The offline generator was asked for something only an LLM writes (a category it does not cover,
    a language it has no items for, or Stage 2 content)."""

    @classmethod
    def for_content(cls) -> NeedsLlm:
        return cls(
            "conversations and stories need an LLM, and the provider is offline: set ANTHROPIC_API_KEY "
            "(provider anthropic), or provider bedrock with AWS credentials"
        )


class UploadNotFound(HavachatError):
    """The uploaded object (version) an event names does not exist (deleted, or its key misread)."""

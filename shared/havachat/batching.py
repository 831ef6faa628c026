"""How work is cut into LLM calls.

`chunk_words` cuts Stage 1's words into calls by an estimated token budget. `split_on_truncation`
(Stage 1 and Stage 2) makes one call and, when its answer is cut off at `max_tokens`, makes it again
as two halves (half the words or items and half the targets each) instead of re-asking a prompt that
would be cut off again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from havachat.errors import LlmOutputTruncated
from havachat.ledger import CallUsage

T = TypeVar("T")

# --------------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------------
ChunkFits = Callable[[int, int], bool]
"""fits(word_count, vocab_tokens): may a chunk of that many words and vocabulary tokens be one call?"""


def _greedy_chunks(costs: Sequence[int], fits: ChunkFits) -> list[tuple[int, int]]:
    """Contiguous (start, end) ranges, each as long as `fits` allows; a word that fits nowhere goes alone."""
    chunks: list[tuple[int, int]] = []
    start, tokens = 0, 0
    for index, cost in enumerate(costs):
        if index > start and not fits(index - start + 1, tokens + cost):
            chunks.append((start, index))
            start, tokens = index, 0
        tokens += cost
    if costs:
        chunks.append((start, len(costs)))
    return chunks


def chunk_words(
    costs: Sequence[int],
    *,
    need: Callable[[int], int],
    output_ok: Callable[[int], bool],
    context_need: int,
    chunk_token_budget: int,
    context_window_tokens: int,
) -> list[tuple[int, int]]:
    """Split words (by their token `costs`) into as few contiguous chunks as the limits allow, evenly sized.

    `need(n)` is the non-vocabulary tokens (prompt overhead + expected output) of an n-word chunk for
    the most demanding category, `output_ok(n)` whether its expected output fits the answer headroom,
    `context_need` the prompt overhead plus `max_tokens` that must fit the context window with the words.
    Greedy packing gives the fewest chunks; the budget is then lowered as far as it can go without
    adding a chunk (binary search), so the last chunk is not a small remainder.
    """

    def fits_within(budget: int) -> ChunkFits:
        def fits(count: int, vocab_tokens: int) -> bool:
            return (
                vocab_tokens + need(count) <= budget
                and output_ok(count)
                and vocab_tokens + context_need <= context_window_tokens
            )

        return fits

    chunks = _greedy_chunks(costs, fits_within(chunk_token_budget))
    if len(chunks) <= 1:
        return chunks
    low, high = 1, chunk_token_budget
    while low < high:
        middle = (low + high) // 2
        if len(_greedy_chunks(costs, fits_within(middle))) <= len(chunks):
            high = middle
        else:
            low = middle + 1
    return _greedy_chunks(costs, fits_within(low))


# --------------------------------------------------------------------------------------------------
# Splitting a truncated call
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Part(Generic[T]):
    """What one call is given: its words (or items) and the (min, max) number of things to write."""

    words: Sequence[T]
    targets: tuple[int, int]

    def halves(self) -> tuple[Part[T], Part[T]] | None:
        """The first and the second half of the words, sharing the targets (the first takes the odd one).

        None when the part cannot be made smaller: fewer than two words, or at most one thing to write.
        """
        low, high = self.targets
        if len(self.words) < 2 or high < 2:
            return None
        middle = len(self.words) // 2
        return (
            Part(self.words[:middle], ((low + 1) // 2, (high + 1) // 2)),
            Part(self.words[middle:], (max(1, low // 2), high // 2)),
        )


def split_on_truncation(
    make: Callable[[Part[T]], None],
    part: Part[T],
    *,
    max_split_depth: int,
    on_truncated: Callable[[list[CallUsage], bool], None],
) -> None:
    """`make(part)`; when its answer is cut off, `make` each half in turn instead, at most `max_split_depth` deep.

    `on_truncated(usage, split)` is told about every cut-off call (its tokens still cost) and whether it
    was split. A cut-off call that cannot be split (the depth limit, or `Part.halves` gives None)
    re-raises its `LlmOutputTruncated`; any other error of `make` propagates as it is.
    """
    try:
        make(part)
    except LlmOutputTruncated as truncated:
        halves = part.halves() if max_split_depth > 0 else None
        on_truncated([u for u in truncated.usage if isinstance(u, CallUsage)], halves is not None)
        if halves is None:
            raise
        for half in halves:
            split_on_truncation(make, half, max_split_depth=max_split_depth - 1, on_truncated=on_truncated)

"""`split_on_truncation` and `Part.halves`: the one rule both stages use for an answer cut off at max_tokens."""

from __future__ import annotations

import pytest

from havachat.batching import Part, split_on_truncation
from havachat.errors import LlmOutputTruncated, LlmThrottled
from havachat.ledger import CallUsage

WORDS = ["a", "b", "c", "d", "e", "f", "g", "h"]


class Calls:
    """A `make` that records every part it is given and cuts off the answers of the parts in `truncate`."""

    def __init__(self, truncate: set[tuple[str, ...]] | None = None, *, always: bool = False) -> None:
        self.truncate = truncate or set()
        self.always = always
        self.made: list[tuple[tuple[str, ...], tuple[int, int]]] = []
        self.truncated: list[tuple[list[CallUsage], bool]] = []

    def make(self, part: Part[str]) -> None:
        words = tuple(part.words)
        self.made.append((words, part.targets))
        if self.always or words in self.truncate:
            usage = CallUsage(model="claude-sonnet-4-6", output_tokens=len(self.made))
            raise LlmOutputTruncated("cut off", usage=[usage, "not a CallUsage"])

    def on_truncated(self, usage: list[CallUsage], split: bool) -> None:
        self.truncated.append((usage, split))


def test_a_cut_off_part_is_made_again_as_its_first_half_then_its_second_half() -> None:
    calls = Calls({tuple(WORDS[:5])})

    split_on_truncation(calls.make, Part(WORDS[:5], (3, 5)), max_split_depth=2, on_truncated=calls.on_truncated)

    assert calls.made == [
        (("a", "b", "c", "d", "e"), (3, 5)),
        (("a", "b"), (2, 3)),
        (("c", "d", "e"), (1, 2)),
    ], "the first half of the words, with the larger half of the targets, comes first"


def test_the_cut_off_calls_usage_is_recorded_and_only_call_usage_is_kept() -> None:
    calls = Calls({tuple(WORDS)})

    split_on_truncation(calls.make, Part(WORDS, (4, 8)), max_split_depth=1, on_truncated=calls.on_truncated)

    [(usage, split)] = calls.truncated
    assert split is True
    assert [u.output_tokens for u in usage] == [1], "the cut-off call's CallUsage, nothing else"
    assert len(calls.made) == 3


def test_truncation_down_to_the_depth_limit_is_raised_with_every_cut_off_call_recorded() -> None:
    calls = Calls(always=True)

    with pytest.raises(LlmOutputTruncated) as raised:
        split_on_truncation(calls.make, Part(WORDS, (4, 8)), max_split_depth=2, on_truncated=calls.on_truncated)

    assert [words for words, _ in calls.made] == [tuple(WORDS), tuple(WORDS[:4]), tuple(WORDS[:2])]
    assert [split for _, split in calls.truncated] == [True, True, False]
    assert [u.output_tokens for usage, _ in calls.truncated for u in usage] == [1, 2, 3]
    assert raised.value.usage[0].output_tokens == 3, "the error raised is the last cut-off call's"


@pytest.mark.parametrize(
    "part",
    [Part(["a"], (1, 3)), Part(["a", "b"], (1, 1))],
    ids=["one word", "one thing to write"],
)
def test_a_part_that_cannot_be_halved_is_raised_at_once(part: Part[str]) -> None:
    calls = Calls(always=True)

    with pytest.raises(LlmOutputTruncated):
        split_on_truncation(calls.make, part, max_split_depth=3, on_truncated=calls.on_truncated)

    assert len(calls.made) == 1
    assert [split for _, split in calls.truncated] == [False]


def test_any_other_error_propagates_and_stops_the_second_half() -> None:
    made: list[tuple[str, ...]] = []

    def make(part: Part[str]) -> None:
        made.append(tuple(part.words))
        if len(part.words) == len(WORDS):
            raise LlmOutputTruncated("cut off")
        raise LlmThrottled("slow down")

    with pytest.raises(LlmThrottled):
        split_on_truncation(make, Part(WORDS, (4, 8)), max_split_depth=3, on_truncated=lambda _usage, _split: None)

    assert made == [tuple(WORDS), tuple(WORDS[:4])]


@pytest.mark.parametrize(
    ("targets", "first", "second"), [((3, 3), (2, 2), (1, 1)), ((1, 2), (1, 1), (1, 1)), ((8, 17), (4, 9), (4, 8))]
)
def test_halves_share_the_targets(targets: tuple[int, int], first: tuple[int, int], second: tuple[int, int]) -> None:
    halves = Part(WORDS, targets).halves()

    assert halves is not None
    assert [h.targets for h in halves] == [first, second]
    assert [list(h.words) for h in halves] == [WORDS[:4], WORDS[4:]]

"""The reading check on a set of textbook cases (tests/fixtures/readings/cases.tsv): correct and wrong readings,
in context, per language, through the public `havachat.check_reading`."""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

import havachat
from havachat.models import ReadingStatus
from tests.helpers import ROOT

CASES = ROOT / "tests" / "fixtures" / "readings" / "cases.tsv"


class Case(NamedTuple):
    language: str
    text: str
    reading: str
    correct: bool


def _cases(path: Path) -> list[Case]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return [
        Case(row["language"], row["text"], row["reading"], row["verdict"] == "ok")
        for row in csv.DictReader(lines, delimiter="\t")
    ]


@pytest.mark.parametrize("language", ["zh", "ja", "ko"])
def test_wrong_readings_are_flagged_and_correct_ones_never(language: str) -> None:
    cases = [case for case in _cases(CASES) if case.language == language]
    wrong = [case for case in cases if not case.correct]
    correct = [case for case in cases if case.correct]
    assert len(wrong) >= 18 and len(correct) >= 18, "a set worth measuring"

    def status(case: Case) -> ReadingStatus | None:
        result = havachat.check_reading(language, case.text, case.reading)
        return result.status if result is not None else None

    missed = [case for case in wrong if status(case) is not ReadingStatus.MISMATCH]
    false_alarms = [case for case in correct if status(case) is ReadingStatus.MISMATCH]
    caught = 1 - len(missed) / len(wrong)
    report = (
        f"{language}: {caught:.0%} of {len(wrong)} wrong readings flagged, {len(false_alarms)} of {len(correct)} "
        f"correct ones flagged; missed {[(c.text, c.reading) for c in missed]}, "
        f"false alarms {[(c.text, c.reading) for c in false_alarms]}"
    )
    assert caught >= 0.95 and not false_alarms, report


@pytest.mark.parametrize(
    ("language", "text", "romanization", "status", "expected"),
    [
        ("zh", "不好", "bú hǎo", ReadingStatus.MISMATCH, "bù hǎo"),  # 不 stays bù before a third tone
        ("zh", "一起", "yìqǐ", ReadingStatus.OK, "yì qǐ"),
        ("zh", "我都去", "wǒ dū qù", ReadingStatus.MISMATCH, "wǒ dōu qù"),  # 都 alone before a verb: dōu
        ("zh", "行", "háng", ReadingStatus.AMBIGUOUS, "xíng"),  # alone, 行 is open: xíng or háng
        ("ja", "お金", "o kin", ReadingStatus.MISMATCH, "o kane"),
        ("ja", "明日", "myōnichi", ReadingStatus.AMBIGUOUS, "asu"),  # a formal reading of the same word
        ("ko", "국물", "gukmul", ReadingStatus.MISMATCH, "gungmul"),  # RR writes the nasalised sound
        ("ko", "맞히다", "machida", ReadingStatus.OK, "machida"),  # ㅈ + ㅎ said ㅊ
    ],
)
def test_check_reading_returns_the_status_and_the_reading_in_context(
    language: str, text: str, romanization: str, status: ReadingStatus, expected: str
) -> None:
    result = havachat.check_reading(language, text, romanization)

    assert result is not None and (result.status, result.expected) == (status, expected)


def test_check_reading_skips_languages_and_text_it_cannot_check() -> None:
    assert havachat.check_reading("es", "hola", "hola") is None
    assert havachat.check_reading("zh", "我有3个", "wǒ yǒu sān gè") is None


def test_the_japanese_analyser_serves_concurrent_batches() -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: havachat.check_reading("ja", "水を飲みます", "mizu o nomimasu"), range(200)))

    assert {r.status if r else None for r in results} == {ReadingStatus.OK}

"""Reading checks of a run: romanization compared with each language's dictionary, flagged and counted.

A checker (`havachat.languages.checker_for`) compares what was written (a vocab row's romanization, an
example's romanization) with what the dictionary says the text reads, and answers:

- `ok`: the reading the text has in context, allowing for how textbooks write it;
- `ambiguous`: another reading the dictionary knows for the same characters that the context leaves
  open (行 alone: xíng/háng; 明日 ashita/myōnichi): flagged, not called wrong;
- `mismatch`: no reading fits in context (wrong tone or sandhi, a heteronym's other reading where the
  phrase or neighbours decide it, a kanji's reading from another word, a letter-by-letter hangul
  transliteration).

`check_reading` (public as `havachat.check_reading`) is the one entry point.

What counts as the same reading in each language is decided in its module under `havachat.languages`
(documented in the README's "Content quality"). The dictionaries are imported on first use per
language, so modules that never check a reading (Plan for Spanish, Finalize without items) do not pay
for them. No AWS or LLM imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from havachat.languages import checker_for
from havachat.languages.common import ReadingCheck
from havachat.models import (
    BUILT_ON_FIRST_USE,
    LearningItem,
    ReadingFlag,
    ReadingStatus,
    VocabItem,
    VocabKind,
    VocabList,
)

FILLED_MARK = "romanization_source"
"""`VocabItem.extra` key set to "dictionary" on rows whose missing romanization was filled."""


def check_reading(language: str, text: str, romanization: str) -> ReadingCheck | None:
    """How `romanization` compares with the reading of `text` in context: `status` (ok, ambiguous, mismatch)
    and the `expected` reading. None when the language has no checker or the text cannot be checked (it
    holds Latin letters or digits). Runs (Generate's flags, Finalize's summary) and the API check through here.

        >>> check_reading("zh", "不好", "bú hǎo").status
        <ReadingStatus.MISMATCH: 'mismatch'>
    """
    checker = checker_for(language)
    return checker.check(text, romanization) if checker is not None else None


def flag_readings(items: Sequence[LearningItem], language: str) -> list[LearningItem]:
    """The items with `reading_flags` set for every example whose romanization is ambiguous or wrong."""
    if checker_for(language) is None:
        return list(items)
    flagged = []
    for item in items:
        flags = []
        for index, example in enumerate(item.examples):
            if not example.romanization:
                continue
            result = check_reading(language, example.text, example.romanization)
            if result is not None and result.status is not ReadingStatus.OK:
                flags.append(
                    ReadingFlag(
                        example=index,
                        text=example.text,
                        given=example.romanization,
                        expected=result.expected,
                        status=result.status,
                    )
                )
        flagged.append(item.model_copy(update={"reading_flags": flags}))
    return flagged


def fill_romanization(vocab: VocabList, language: str) -> VocabList:
    """The vocab with missing romanization of words filled from the dictionary (marked in `extra`)."""
    checker = checker_for(language)
    if checker is None or all(item.romanization or item.kind is not VocabKind.WORD for item in vocab.items):
        return vocab
    filled = [
        item.model_copy(
            update={"romanization": checker.romanize(item.word), "extra": {**item.extra, FILLED_MARK: "dictionary"}}
        )
        if not item.romanization and item.kind is VocabKind.WORD
        else item
        for item in vocab.items
    ]
    return vocab.model_copy(update={"items": filled})


class InputMismatch(BaseModel):
    model_config = BUILT_ON_FIRST_USE

    word: str
    given: str
    expected: str
    status: ReadingStatus


class InputReadings(BaseModel):
    """How the vocab's own romanization compares with the dictionary."""

    model_config = BUILT_ON_FIRST_USE

    checked: int = 0
    filled: int = 0
    mismatches: int = 0
    ambiguous: int = 0
    flagged: list[InputMismatch] = Field(default_factory=list, description="every ambiguous or mismatched row")


def check_vocab_readings(words: Iterable[VocabItem], language: str) -> InputReadings:
    """Check every word's given romanization; rows filled from the dictionary are counted, not checked."""
    report = InputReadings()
    if checker_for(language) is None:
        return report
    for item in words:
        if item.kind is not VocabKind.WORD or not item.romanization:
            continue
        if item.extra.get(FILLED_MARK) == "dictionary":
            report.filled += 1
            continue
        result = check_reading(language, item.word, item.romanization)
        if result is None:
            continue
        report.checked += 1
        if result.status is ReadingStatus.OK:
            continue
        if result.status is ReadingStatus.MISMATCH:
            report.mismatches += 1
        else:
            report.ambiguous += 1
        report.flagged.append(
            InputMismatch(word=item.word, given=item.romanization, expected=result.expected, status=result.status)
        )
    return report


class ReadingCounts(BaseModel):
    model_config = BUILT_ON_FIRST_USE

    mismatches: int = 0
    ambiguous: int = 0


class ReadingsSummary(BaseModel):
    """The run's reading checks: flagged examples overall and per category, and the input's own romanization."""

    model_config = BUILT_ON_FIRST_USE

    checked: bool = Field(default=False, description="whether the language has a dictionary checker")
    examples_checked: int = 0
    mismatches: int = 0
    ambiguous: int = 0
    by_category: dict[str, ReadingCounts] = Field(default_factory=dict)
    input: InputReadings = Field(default_factory=InputReadings)


def summarise_readings(items: Iterable[LearningItem], words: Iterable[VocabItem], language: str) -> ReadingsSummary:
    """Count the items' reading flags and check the vocab's romanization (both zero for unchecked languages)."""
    if checker_for(language) is None:
        return ReadingsSummary()
    summary = ReadingsSummary(checked=True, input=check_vocab_readings(words, language))
    for item in items:
        counts = summary.by_category.setdefault(item.category.value, ReadingCounts())
        summary.examples_checked += sum(1 for e in item.examples if e.romanization)
        for flag in item.reading_flags:
            if flag.status is ReadingStatus.MISMATCH:
                counts.mismatches += 1
                summary.mismatches += 1
            elif flag.status is ReadingStatus.AMBIGUOUS:
                counts.ambiguous += 1
                summary.ambiguous += 1
    return summary

"""The data the pipeline reads, plans with and writes: vocabulary, learning items, runs and batches."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


BUILT_ON_FIRST_USE = ConfigDict(defer_build=True)
"""The config of the models only Plan, Finalize or the local CLI use: pydantic builds their validators on first
use, so GenerateBatch and Content, which import their modules too, do not build them at cold start."""


class Category(StrEnum):
    """The nine kinds of learning item; each gets its own prompt and its own batch calls."""

    PRONUNCIATION = "pronunciation"
    IDIOM = "idiom"
    FUNCTIONAL = "functional"
    CULTURAL = "cultural"
    WRITING_SYSTEM = "writing_system"
    SOCIOLINGUISTIC = "sociolinguistic"
    PRAGMATIC = "pragmatic"
    LITERACY = "literacy"
    PATTERN = "pattern"


OFFLINE_MODEL = "offline"
"""The model recorded by runs and items of the offline generator (`havachat.offline`), which asks no LLM."""
OFFLINE_CATEGORIES: tuple[Category, ...] = (Category.PRONUNCIATION, Category.WRITING_SYSTEM)
"""The categories the offline generator derives from dictionaries; an offline run plans only these."""


class LevelSystem(StrEnum):
    HSK = "HSK"
    JLPT = "JLPT"
    CEFR = "CEFR"
    TOPIK = "TOPIK"
    CUSTOM = "custom"


_LEVEL_PATTERNS: tuple[tuple[LevelSystem, re.Pattern[str]], ...] = (
    (LevelSystem.HSK, re.compile(r"^HSK[\s_-]?([1-9])$", re.I)),
    (LevelSystem.JLPT, re.compile(r"^(?:JLPT[\s_-]?)?(N[1-5])$", re.I)),
    (LevelSystem.CEFR, re.compile(r"^(?:CEFR[\s_-]?)?([ABC][12])$", re.I)),
    (LevelSystem.TOPIK, re.compile(r"^TOPIK[\s_-]?([1-6])$", re.I)),
)


class Level(BaseModel):
    """A proficiency level such as HSK 1, JLPT N5 or CEFR A1; anything else is kept as a custom label."""

    model_config = ConfigDict(frozen=True)

    system: LevelSystem
    label: NonEmpty

    @classmethod
    def parse(cls, text: str) -> Level:
        cleaned = text.strip()
        for system, pattern in _LEVEL_PATTERNS:
            if match := pattern.match(cleaned):
                return cls(system=system, label=match.group(1).upper())
        return cls(system=LevelSystem.CUSTOM, label=cleaned)

    def __str__(self) -> str:
        return self.label if self.system is LevelSystem.CUSTOM else f"{self.system.value} {self.label}"

    @property
    def code(self) -> str:
        """Compact form that `parse` reads back, as used in upload keys: HSK1, N5, A1, TOPIK2."""
        if self.system in (LevelSystem.HSK, LevelSystem.TOPIK):
            return f"{self.system.value}{self.label}"
        return self.label


class VocabKind(StrEnum):
    WORD = "word"
    GRAMMAR = "grammar"


DEFINITION_MARK = "definition_source"
"""`VocabItem.extra` key set to the dictionary's name on rows whose missing definition Plan filled."""


class VocabItem(BaseModel):
    """One row of a vocabulary list after normalisation (NFC, trimmed)."""

    model_config = ConfigDict(frozen=True)

    word: NonEmpty
    romanization: str | None = None
    definition: str | None = None
    pos: str | None = None
    kind: VocabKind = VocabKind.WORD
    extra: dict[str, str] = Field(default_factory=dict)


class VocabWarning(BaseModel):
    """Something intake changed in an accepted file, or doubts about it, on the row it concerns."""

    row: int | None = Field(description="the row (line; item number in JSON); null: the whole file")
    problem: str

    def __str__(self) -> str:
        return self.problem if self.row is None else f"row {self.row}: {self.problem}"


class VocabList(BaseModel):
    """A validated vocabulary file: the words in file order, duplicates merged, and what intake warned about."""

    source: str
    language: str | None = None
    level: Level | None = None
    items: list[VocabItem]
    warnings: list[VocabWarning] = Field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return [item.word for item in self.items]


class Example(BaseModel):
    text: NonEmpty
    romanization: str | None = Field(
        default=None,
        description="Reading in Latin script (pinyin with tone marks, romaji, ...) when the script needs it",
    )
    translation: NonEmpty


class GeneratedItem(BaseModel):
    """One learning item as the model writes it; the pipeline adds ids, metadata and provenance."""

    title: NonEmpty = Field(description="Short name of the feature taught, e.g. 'Third-tone sandhi in 你好'")
    explanation: NonEmpty = Field(description="What the learner should know, in English, 1-4 sentences")
    examples: list[Example] = Field(min_length=2, max_length=3)
    source_words: list[NonEmpty] = Field(
        min_length=1, description="Words copied exactly from the vocabulary list that this item draws on"
    )


class LearningItemBatch(BaseModel):
    """The structured answer of one category batch call."""

    items: list[GeneratedItem] = Field(min_length=1)


class Provenance(BaseModel):
    run_id: str
    batch_id: str
    model: str
    prompt_version: str
    generator: str = "llm"


class ReadingStatus(StrEnum):
    """How a romanization compares with the dictionary: `ambiguous` = a heteronym reading other than the likeliest."""

    OK = "ok"
    AMBIGUOUS = "ambiguous"
    MISMATCH = "mismatch"


class ReadingFlag(BaseModel):
    """An example whose romanization the dictionary check did not confirm (see `havachat.readings`)."""

    example: int = Field(description="Index of the example in `examples`")
    text: str
    given: str
    expected: str = Field(description="The dictionary's likeliest reading")
    status: ReadingStatus


class LearningItem(GeneratedItem):
    """A learning item as stored in `items.jsonl`, S3 and DynamoDB."""

    id: str
    language: str
    category: Category
    level_system: LevelSystem
    level_min: str
    level_max: str
    provenance: Provenance
    reading_flags: list[ReadingFlag] = Field(default_factory=list)


def normalise_text(text: str) -> str:
    """Canonical form for ids and de-duplication: NFKC, case-folded, single spaces, no end punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"\s+", " ", folded).strip(" .!?。！？")


def item_id(language: str, category: Category, title: str, source_words: list[str]) -> str:
    """Deterministic id: the same language, category and normalised content give the same id."""
    words = "\x1f".join(sorted({normalise_text(w) for w in source_words}))
    key = "\x1e".join((language.lower(), category.value, normalise_text(title), words))
    return f"{language.lower()}-{category.value}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


class BatchSpec(BaseModel):
    """One unit of work for GenerateBatch: a category over one chunk of the vocabulary."""

    batch_id: str
    category: Category
    chunk_index: int
    chunk_count: int
    word_start: int = Field(description="Index of the first word of the chunk in the normalised vocab")
    word_end: int = Field(description="Index one past the last word of the chunk")
    target_items_min: int
    target_items_max: int
    estimated_input_tokens: int
    estimated_output_tokens: int

    @property
    def word_count(self) -> int:
        return self.word_end - self.word_start


class RunPlan(BaseModel):
    """Everything decided before any LLM call: the vocabulary's context and its category batches."""

    run_id: str
    language: str
    level: Level
    source: str
    word_count: int
    model: str
    prompt_version: str
    max_tokens: int = Field(description="The answer limit the chunks were sized for; GenerateBatch uses it")
    chunk_token_budget: int
    batches: list[BatchSpec]

"""Stage 2 data: conversations and stories written from a run's learning items, and `content.json`.

`ConversationBatch` and `StoryBatch` are the response models of the two content calls (what the model
writes); `Conversation` and `Story` are what is stored, with ids, level, checks and provenance added.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from havachat.ledger import UsageTotals
from havachat.models import LevelSystem, NonEmpty

CONTENT_FILE = "content.json"


class ContentKind(StrEnum):
    CONVERSATION = "conversation"
    STORY = "story"


class Turn(BaseModel):
    speaker: NonEmpty = Field(description="Who speaks, e.g. 'A', 'Li Ming', 'waiter'")
    text: NonEmpty = Field(description="What they say, in the target language and its normal script")
    romanization: str | None = Field(
        default=None, description="Reading in Latin script when the script needs it; null for Latin-script languages"
    )
    translation: NonEmpty = Field(description="An idiomatic English translation of the text")


class Paragraph(BaseModel):
    text: NonEmpty = Field(description="One paragraph in the target language and its normal script")
    romanization: str | None = Field(default=None, description="Reading in Latin script when the script needs it")
    translation: NonEmpty = Field(description="An idiomatic English translation of the paragraph")


class GlossedWord(BaseModel):
    word: NonEmpty = Field(description="A word as it appears in the story")
    romanization: str | None = None
    meaning: NonEmpty = Field(description="Its meaning in the story, in English")


class Citations(BaseModel):
    """What a piece of content draws on: learning item ids and vocabulary words, copied exactly."""

    item_ids: list[NonEmpty] = Field(min_length=1, description="ids of the learning items the piece practises")
    vocab_words: list[NonEmpty] = Field(
        min_length=1, description="words from the vocabulary block the piece uses, copied exactly"
    )


class GeneratedConversation(Citations):
    title: NonEmpty
    scenario: NonEmpty = Field(description="The situation in one English sentence: who, where, why")
    turns: list[Turn] = Field(min_length=2)

    def target_texts(self) -> list[str]:
        return [turn.text for turn in self.turns]


class GeneratedStory(Citations):
    title: NonEmpty
    paragraphs: list[Paragraph] = Field(min_length=1)
    glossary: list[GlossedWord] = Field(min_length=1, description="Words a learner may not know, glossed")

    def target_texts(self) -> list[str]:
        return [paragraph.text for paragraph in self.paragraphs]


class ConversationBatch(BaseModel):
    """The structured answer of one conversations call."""

    conversations: list[GeneratedConversation] = Field(min_length=1)


class StoryBatch(BaseModel):
    """The structured answer of one stories call."""

    stories: list[GeneratedStory] = Field(min_length=1)


class ContentProvenance(BaseModel):
    run_id: str
    chunk_id: str
    model: str
    prompt_version: str
    generator: str = "llm"


class StoredContent(BaseModel):
    """What the pipeline adds to a piece the model wrote."""

    id: str
    kind: ContentKind
    language: str
    level_system: LevelSystem
    level: str
    out_of_level_words: list[str] = Field(
        default_factory=list, description="Words of the text not in the run's vocabulary list (heuristic)"
    )
    provenance: ContentProvenance


class Conversation(GeneratedConversation, StoredContent):
    pass


class Story(GeneratedStory, StoredContent):
    pass


class ContentChunkRecord(BaseModel):
    """One content call's finished output (`scratch/<run>/content/<chunk_id>.json`): reused on retries."""

    chunk_id: str
    kind: ContentKind
    conversations: list[Conversation] = Field(default_factory=list)
    stories: list[Story] = Field(default_factory=list)
    usage: UsageTotals = Field(default_factory=UsageTotals)
    dropped_pieces: int = 0
    removed_item_ids: int = 0
    removed_vocab_words: int = 0


class ContentSummary(BaseModel):
    requested: dict[str, int]
    produced: dict[str, int]
    chunks: int = 0
    dropped_pieces: int = Field(0, description="pieces dropped because no cited item id or no cited word was known")
    removed_item_ids: int = Field(0, description="cited item ids not in the run, removed from their piece")
    removed_vocab_words: int = Field(0, description="cited words not in the vocabulary, removed from their piece")
    out_of_level_words: list[str] = Field(default_factory=list)
    usage: UsageTotals = Field(default_factory=UsageTotals)
    usage_by_kind: dict[str, UsageTotals] = Field(default_factory=dict)
    cost_usd: float = 0.0


class ContentDocument(BaseModel):
    """`content.json`: a run's conversations and stories, and what making them cost."""

    run_id: str
    language: str
    level: str
    model: str
    prompt_version: str
    conversations: list[Conversation]
    stories: list[Story]
    summary: ContentSummary
    generated_at: str

    def pieces(self) -> list[Conversation | Story]:
        return [*self.conversations, *self.stories]

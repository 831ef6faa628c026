"""Stage 2: N conversations and N stories from a run's learning items, one batched call per content kind.

Plain typed Python (no AWS, no LLM SDK): `plan_content`, which gives each call the few items its
pieces can practise, and `generate_content`, which runs the calls through any `StructuredContentLlm`. The
prompt is in `content.prompts`, the checks on what the model wrote in `content.checks`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from havachat.batching import Part, split_on_truncation
from havachat.concurrency import map_concurrently
from havachat.content.checks import GeneratedPiece, LevelVocabulary, Piece, finish_content
from havachat.content.models import (
    ContentChunkRecord,
    ContentDocument,
    ContentKind,
    ContentProvenance,
    ContentSummary,
    Conversation,
    ConversationBatch,
    Story,
    StoryBatch,
)
from havachat.content.prompts import (
    CONTENT_PROMPT_VERSION,
    build_content_request,
    render_level_words,
)
from havachat.errors import HavachatError, LlmError, LlmOutputTruncated
from havachat.ledger import CallUsage, UsageTotals
from havachat.llm_port import StructuredContentLlm
from havachat.models import LearningItem, Level, VocabItem
from havachat.planning import estimate_tokens
from havachat.postprocess import WordIndex
from havachat.prompts import OUTPUT_TOKEN_HEADROOM
from havachat.settings import Settings

# Planning estimates of one piece's output as tool-call JSON (8-12 turns, or 3-5 paragraphs and a glossary,
# each with romanization and translation).
EXPECTED_OUTPUT_TOKENS: dict[ContentKind, int] = {ContentKind.CONVERSATION: 1000, ContentKind.STORY: 1200}
# A piece practises two to five items: a call offers five per piece, and its pieces choose among them all.
ITEMS_PER_PIECE = 5
# A level's list (up to about 1,500 Chinese words) goes whole into every call, to write at the level from;
# a longer list (a frequency list rather than a level) gives each call the words its items cite.
WHOLE_VOCABULARY_MAX_TOKENS = 4_000
RESPONSE_MODELS: dict[ContentKind, type[ConversationBatch] | type[StoryBatch]] = {
    ContentKind.CONVERSATION: ConversationBatch,
    ContentKind.STORY: StoryBatch,
}


class ContentGenerationFailed(HavachatError):
    """Some content calls failed after their retries; the others' output is kept (cached) for a re-run."""

    def __init__(self, errors: dict[str, Exception]) -> None:
        self.errors = errors
        shown = "; ".join(f"{chunk_id}: {type(exc).__name__}: {exc}" for chunk_id, exc in list(errors.items())[:5])
        super().__init__(f"{len(errors)} content call(s) failed: {shown}")


# --------------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContentChunk:
    """One content call: `count` pieces of `kind` from `items`, with `words` as the level's vocabulary."""

    chunk_id: str
    kind: ContentKind
    items: list[LearningItem]
    words: list[VocabItem]
    count: int


def max_pieces_per_call(kind: ContentKind, max_tokens: int) -> int:
    return max(1, math.floor(max_tokens * OUTPUT_TOKEN_HEADROOM / EXPECTED_OUTPUT_TOKENS[kind]))


def interleave_by_category(items: Sequence[LearningItem]) -> list[LearningItem]:
    """Items round-robin over their categories, so every call mixes categories."""
    by_category: dict[str, list[LearningItem]] = {}
    for item in items:
        by_category.setdefault(item.category.value, []).append(item)
    queues = list(by_category.values())
    ordered: list[LearningItem] = []
    for index in range(max((len(q) for q in queues), default=0)):
        ordered.extend(queue[index] for queue in queues if index < len(queue))
    return ordered


def plan_content(
    requested: Mapping[ContentKind, int],
    items: Sequence[LearningItem],
    vocab: Sequence[VocabItem],
    *,
    max_tokens: int,
) -> list[ContentChunk]:
    """The calls that write the `requested` pieces of each kind: as few as one answer's `max_tokens` allows.

    A call offers `ITEMS_PER_PIECE` items per piece, taken in turn from the items interleaved by
    category, so the calls (conversations, then stories) practise different items until every item
    has been offered. The level's vocabulary goes whole into every call when it is a level's list
    (`WHOLE_VOCABULARY_MAX_TOKENS`), else each call gets the words its items cite. A kind's pieces
    are spread evenly over its calls.
    """
    ordered = interleave_by_category(items)
    whole_vocabulary = estimate_tokens(render_level_words(vocab)) <= WHOLE_VOCABULARY_MAX_TOKENS
    chunks: list[ContentChunk] = []
    offered = 0
    for kind, count in requested.items():
        calls = math.ceil(count / max_pieces_per_call(kind, max_tokens)) if ordered else 0
        for index in range(calls):
            pieces = count // calls + (1 if index < count % calls else 0)
            chunk_items = [
                ordered[(offered + k) % len(ordered)] for k in range(min(len(ordered), pieces * ITEMS_PER_PIECE))
            ]
            offered += len(chunk_items)
            cited = {word for item in chunk_items for word in item.source_words}
            words = list(vocab) if whole_vocabulary else [w for w in vocab if w.word in cited]
            chunks.append(ContentChunk(f"{kind.value}-{index:04d}", kind, chunk_items, words, pieces))
    return chunks


# --------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------
class ChunkCache(Protocol):
    """Finished chunk outputs by chunk id, so a retried run does not pay for a call twice."""

    def get(self, chunk_id: str) -> dict[str, object] | None: ...
    def put(self, chunk_id: str, record: dict[str, object]) -> None: ...


ChunkDone = Callable[[ContentChunkRecord, Exception | None], None]


@dataclass
class _Context:
    run_id: str
    language: str
    level: Level
    llm: StructuredContentLlm
    max_tokens: int
    item_ids: set[str]
    words: WordIndex
    level_vocabulary: LevelVocabulary


def generate_content(
    items: Sequence[LearningItem],
    vocab: Sequence[VocabItem],
    *,
    run_id: str,
    language: str,
    level: Level,
    llm: StructuredContentLlm,
    conversations: int,
    stories: int,
    max_tokens: int,
    max_split_depth: int = 2,
    concurrency: int = 4,
    chunk_cache: ChunkCache | None = None,
    on_chunk: ChunkDone | None = None,
) -> ContentDocument:
    """Write `conversations` conversations and `stories` stories from `items`, checked against `vocab`.

    One call per content kind (more when the pieces would not fit one answer), run
    `concurrently`. An answer cut off at `max_tokens` is split in two (fewer pieces each), at most
    `max_split_depth` times. When any call fails for good, `ContentGenerationFailed` is raised after
    the others' outputs are in `chunk_cache`. `on_chunk(record, error)` is told about every call.
    """
    if not items:
        raise ValueError(f"run {run_id} has no learning items to write content from")
    context = _Context(
        run_id=run_id,
        language=language,
        level=level,
        llm=llm,
        max_tokens=max_tokens,
        item_ids={item.id for item in items},
        words=WordIndex(vocab),
        level_vocabulary=LevelVocabulary((item.word for item in vocab), language),
    )
    requested = {ContentKind.CONVERSATION: conversations, ContentKind.STORY: stories}
    chunks = plan_content(requested, items, vocab, max_tokens=max_tokens)

    def run(chunk: ContentChunk) -> ContentChunkRecord | Exception:
        cached = chunk_cache.get(chunk.chunk_id) if chunk_cache else None
        if cached is not None:
            return ContentChunkRecord.model_validate(cached)
        record = ContentChunkRecord(chunk_id=chunk.chunk_id, kind=chunk.kind)
        try:
            _generate_into(record, chunk, context, max_split_depth)
        except Exception as exc:
            # the attempts it wasted still cost (a truncated answer's are recorded where it is split)
            if isinstance(exc, LlmError) and not isinstance(exc, LlmOutputTruncated):
                record.usage += UsageTotals.of_call(u for u in exc.usage if isinstance(u, CallUsage))
            if on_chunk:
                on_chunk(record, exc)
            return exc
        if chunk_cache:
            chunk_cache.put(chunk.chunk_id, record.model_dump(mode="json"))
        if on_chunk:
            on_chunk(record, None)
        return record

    outcomes = map_concurrently(run, chunks, max(1, concurrency))
    errors = {c.chunk_id: o for c, o in zip(chunks, outcomes, strict=True) if isinstance(o, Exception)}
    if errors:
        raise ContentGenerationFailed(errors)
    records = [o for o in outcomes if isinstance(o, ContentChunkRecord)]
    return _document(records, requested, context, llm.model)


def generate_content_with_settings(
    items: Sequence[LearningItem],
    vocab: Sequence[VocabItem],
    settings: Settings,
    *,
    run_id: str,
    language: str,
    level: Level,
    llm: StructuredContentLlm,
    conversations: int | None = None,
    stories: int | None = None,
    chunk_cache: ChunkCache | None = None,
    on_chunk: ChunkDone | None = None,
) -> ContentDocument:
    """`generate_content` with its counts and limits from `settings` (counts may be overridden)."""
    return generate_content(
        items,
        vocab,
        run_id=run_id,
        language=language,
        level=level,
        llm=llm,
        conversations=settings.content_conversations if conversations is None else conversations,
        stories=settings.content_stories if stories is None else stories,
        max_tokens=settings.max_tokens,
        max_split_depth=settings.max_split_depth,
        concurrency=settings.map_concurrency,
        chunk_cache=chunk_cache,
        on_chunk=on_chunk,
    )


def _generate_into(record: ContentChunkRecord, chunk: ContentChunk, context: _Context, max_split_depth: int) -> None:
    """The pieces of `chunk` into `record`; a cut-off answer is split in two (half the items and pieces each)."""

    def make(call: Part[LearningItem]) -> None:
        count = call.targets[1]  # (count, count): a content call writes an exact number of pieces
        request = build_content_request(
            chunk.kind, context.language, context.level, call.words, chunk.words, count, context.max_tokens
        )
        answer = context.llm.generate_structured(request, RESPONSE_MODELS[chunk.kind])
        record.usage += UsageTotals.of_call(answer.attempts)
        value = answer.value
        generated: list[GeneratedPiece] = [
            *(value.conversations if isinstance(value, ConversationBatch) else value.stories)
        ]
        finished = finish_content(
            generated[:count],
            kind=chunk.kind,
            item_ids=context.item_ids,
            words=context.words,
            level_vocabulary=context.level_vocabulary,
            language=context.language,
            level=context.level,
            provenance=ContentProvenance(
                run_id=context.run_id,
                chunk_id=chunk.chunk_id,
                model=context.llm.model,
                prompt_version=CONTENT_PROMPT_VERSION,
            ),
        )
        for piece in finished.pieces:
            if isinstance(piece, Conversation):
                record.conversations.append(piece)
            else:
                record.stories.append(piece)
        record.dropped_pieces += finished.dropped_pieces
        record.removed_item_ids += finished.removed_item_ids
        record.removed_vocab_words += finished.removed_vocab_words

    def on_truncated(usage: list[CallUsage], _split: bool) -> None:
        record.usage += UsageTotals.of_call(usage)

    whole = Part(chunk.items, (chunk.count, chunk.count))
    split_on_truncation(make, whole, max_split_depth=max_split_depth, on_truncated=on_truncated)


def _document(
    records: Sequence[ContentChunkRecord],
    requested: dict[ContentKind, int],
    context: _Context,
    model: str,
) -> ContentDocument:
    conversations: dict[str, Conversation] = {}
    stories: dict[str, Story] = {}
    duplicates = 0
    usage_by_kind: dict[str, UsageTotals] = {}
    for record in records:
        for conversation in record.conversations:
            duplicates += conversation.id in conversations
            conversations.setdefault(conversation.id, conversation)
        for story in record.stories:
            duplicates += story.id in stories
            stories.setdefault(story.id, story)
        usage_by_kind[record.kind.value] = usage_by_kind.get(record.kind.value, UsageTotals()) + record.usage
    pieces: list[Piece] = [*conversations.values(), *stories.values()]
    total = UsageTotals.total(usage_by_kind.values())
    summary = ContentSummary(
        requested={kind.value: count for kind, count in requested.items()},
        produced={ContentKind.CONVERSATION.value: len(conversations), ContentKind.STORY.value: len(stories)},
        chunks=len(records),
        dropped_pieces=sum(r.dropped_pieces for r in records) + duplicates,
        removed_item_ids=sum(r.removed_item_ids for r in records),
        removed_vocab_words=sum(r.removed_vocab_words for r in records),
        out_of_level_words=sorted({w for piece in pieces for w in piece.out_of_level_words}),
        usage=total,
        usage_by_kind=usage_by_kind,
        cost_usd=round(total.cost_usd, 6),
    )
    return ContentDocument(
        run_id=context.run_id,
        language=context.language,
        level=str(context.level),
        model=model,
        prompt_version=CONTENT_PROMPT_VERSION,
        conversations=list(conversations.values()),
        stories=list(stories.values()),
        summary=summary,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )

"""Stage 2 as a step over ports (no boto3): consume `LearningItemsGenerated`, write and announce the content.

Idempotent for EventBridge's at-least-once delivery and Lambda's async retries:
- an existing `results/<run>/content.json` ends the step without an LLM call;
- every finished content call is kept under `scratch/<run>/content/<chunk>.json`, so a retry after
  a partial failure pays only for the calls that failed;
- `content.json` is written last, after the DynamoDB rows and the `LearningContentGenerated`
  event, so its presence means everything before it is done (a crash in between repeats the
  rows, which overwrite, and the event: consumers de-duplicate on `run_id`);
- a run that copied an earlier run's batch outputs (`reused_from`, an identical upload) copies the content
  of that run, or of another copy of it (`scratch/content-copies/<run>.json`), when it asked for as much
  and cites only items this run has: no LLM call;
- a failed attempt writes nothing but its finished calls and publishes `LearningContentGenerationFailed`,
  once per attempt: a later `LearningContentGenerated` for the same `run_id` supersedes it.
"""

from __future__ import annotations

from collections.abc import Callable

from havachat.content.generate import ContentGenerationFailed, generate_content_with_settings
from havachat.content.models import ContentChunkRecord, ContentDocument, ContentKind
from havachat.content.prompts import CONTENT_PROMPT_VERSION
from havachat.errors import MissingCredentials, NeedsLlm
from havachat.ledger import UsageTotals
from havachat.llm_port import StructuredContentLlm
from havachat.models import LearningItem, Level, VocabItem, VocabList
from havachat.pipeline.contracts import (
    CONTENT_GENERATED,
    CONTENT_GENERATION_FAILED,
    ContentFailedDetail,
    ContentGeneratedDetail,
    ContentOutcome,
    ContentStatus,
    ItemsGeneratedDetail,
    RunStatus,
)
from havachat.pipeline.keys import ContentKeys, RunKeys
from havachat.pipeline.ports import BatchMetricsSink, ContentRows, ContentStore, Events
from havachat.settings import Settings

CONTENT_METRIC_PREFIX = "content-"  # the EMF `category` of content calls: content-conversation, content-story


class _StoreChunkCache:
    def __init__(self, store: ContentStore, keys: ContentKeys) -> None:
        self._store = store
        self._keys = keys

    def get(self, chunk_id: str) -> dict[str, object] | None:
        value = self._store.get_json(self._keys.chunk(chunk_id))
        return value if isinstance(value, dict) else None

    def put(self, chunk_id: str, record: dict[str, object]) -> None:
        self._store.put_json(self._keys.chunk(chunk_id), record)


def content_step(
    detail: ItemsGeneratedDetail,
    *,
    store: ContentStore,
    rows: ContentRows | None,
    events: Events,
    llm: Callable[[], StructuredContentLlm],
    metrics_sink: BatchMetricsSink,
    settings: Settings,
) -> ContentOutcome:
    """Write the run's conversations and stories to S3 (and `rows`), then publish `LearningContentGenerated`.

    `llm` builds the model client; it is called only when there is content to write. A FAILED run
    or a run without items is skipped. `ContentGenerationFailed` (some calls failed
    after their retries), like no way to reach an LLM (`MissingCredentials`, `NeedsLlm`), is announced
    as `LearningContentGenerationFailed`, then propagates so the invocation is retried; finished calls
    are kept.
    """
    keys = ContentKeys(detail.run_id)
    if detail.status not in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
        return ContentOutcome(run_id=detail.run_id, status=ContentStatus.SKIPPED, reason=f"run {detail.status.value}")
    if detail.items_total == 0:
        return ContentOutcome(run_id=detail.run_id, status=ContentStatus.SKIPPED, reason="the run has no items")
    existing = store.get_json(keys.content)
    if existing is not None:
        return _outcome(ContentDocument.model_validate(existing), ContentStatus.EXISTING, keys)

    items = [LearningItem.model_validate(row) for row in store.get_jsonl(detail.output.items_key)]
    reused = _earlier_content(store, detail, items, settings)
    if reused is not None:
        _publish(reused, detail, store=store, rows=rows, events=events)
        return _outcome(reused, ContentStatus.EXISTING, keys)
    vocab, from_items = _vocabulary(store, detail.run_id, items)

    def on_chunk(record: ContentChunkRecord, error: Exception | None) -> None:
        metrics_sink.record(
            category=f"{CONTENT_METRIC_PREFIX}{record.kind.value}",
            model=model.model,
            usage=record.usage,
            items=len(record.conversations) + len(record.stories),
            failed=error is not None,
        )

    try:
        model = llm()  # no key, or the offline provider: announced like a failed call
        document = generate_content_with_settings(
            items,
            vocab,
            settings,
            run_id=detail.run_id,
            language=detail.language,
            level=Level.parse(detail.level),
            llm=model,
            chunk_cache=_StoreChunkCache(store, keys),
            on_chunk=on_chunk,
        )
    except (ContentGenerationFailed, MissingCredentials, NeedsLlm) as failed:
        events.publish(CONTENT_GENERATION_FAILED, ContentFailedDetail.of(detail.run_id, failed).model_dump(mode="json"))
        raise
    _publish(document, detail, store=store, rows=rows, events=events)
    if detail.reused_from:  # the next copy of the same run finds this content
        store.put_json(_copies_key(detail.reused_from), {"run_id": detail.run_id})
    outcome = _outcome(document, ContentStatus.SUCCEEDED, keys)
    outcome.vocab_from_items = from_items
    return outcome


def _publish(
    document: ContentDocument,
    detail: ItemsGeneratedDetail,
    *,
    store: ContentStore,
    rows: ContentRows | None,
    events: Events,
) -> None:
    """The rows, then the event, then content.json (its presence means the rest is done)."""
    keys = ContentKeys(detail.run_id)
    if rows is not None:
        rows.put_content(detail.run_id, document.pieces())
    generated = ContentGeneratedDetail.of(document, store.bucket, keys.content)
    events.publish(CONTENT_GENERATED, generated.model_dump(mode="json"))
    store.put_json(keys.content, document.model_dump(mode="json"))


def _earlier_content(
    store: ContentStore, detail: ItemsGeneratedDetail, items: list[LearningItem], settings: Settings
) -> ContentDocument | None:
    """The content of the run whose batch outputs this run copied, as this run's (costing nothing), if it
    asked for the same numbers with the same prompt and cites only items this run has."""
    if not detail.reused_from:
        return None
    data = store.get_json(ContentKeys(detail.reused_from).content)
    if data is None:
        pointer = store.get_json(_copies_key(detail.reused_from))
        copy_id = pointer.get("run_id") if isinstance(pointer, dict) else None
        data = store.get_json(ContentKeys(copy_id).content) if copy_id else None
    if data is None:
        return None
    earlier = ContentDocument.model_validate(data)
    asked = {
        ContentKind.CONVERSATION.value: settings.content_conversations,
        ContentKind.STORY.value: settings.content_stories,
    }
    item_ids = {item.id for item in items}
    if (
        earlier.summary.requested != asked
        or earlier.prompt_version != CONTENT_PROMPT_VERSION
        or any(not set(piece.item_ids) <= item_ids for piece in earlier.pieces())
    ):
        return None
    free = {kind: UsageTotals() for kind in earlier.summary.usage_by_kind}
    summary = earlier.summary.model_copy(update={"usage": UsageTotals(), "usage_by_kind": free, "cost_usd": 0.0})
    return earlier.model_copy(update={"run_id": detail.run_id, "summary": summary})


def _copies_key(run_id: str) -> str:
    """`{"run_id"}` of the last copy of run `run_id` (a run that reused its batch outputs) that made content."""
    return f"scratch/content-copies/{run_id}.json"


def _vocabulary(store: ContentStore, run_id: str, items: list[LearningItem]) -> tuple[list[VocabItem], bool]:
    """The run's normalised vocab from Plan's scratch copy; once that has expired, the words the items cite."""
    data = store.get_json(RunKeys(run_id).vocab)
    if data is not None:
        return VocabList.model_validate(data).items, False
    words = dict.fromkeys(word for item in items for word in item.source_words)
    return [VocabItem(word=word) for word in words], True


def _outcome(document: ContentDocument, status: ContentStatus, keys: ContentKeys) -> ContentOutcome:
    return ContentOutcome(
        run_id=document.run_id,
        status=status,
        content_key=keys.content,
        conversations=len(document.conversations),
        stories=len(document.stories),
        out_of_level_words=len(document.summary.out_of_level_words),
        cost_usd=document.summary.cost_usd,
    )

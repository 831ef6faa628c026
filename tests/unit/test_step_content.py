"""Stage 2 as a plain step: a finished run's items become conversations and stories, written and announced."""

from __future__ import annotations

from datetime import datetime

import pytest

from havachat.content.generate import ContentGenerationFailed
from havachat.content.models import ContentDocument
from havachat.llm import InstructorClaude
from havachat.pipeline.content import CONTENT_METRIC_PREFIX, content_step
from havachat.pipeline.contracts import (
    CONTENT_GENERATED,
    CONTENT_GENERATION_FAILED,
    GENERATED,
    ContentGeneratedDetail,
    ContentOutcome,
    ContentStatus,
    ItemsGeneratedDetail,
    RunStatus,
)
from havachat.pipeline.keys import ContentKeys, RunKeys
from tests.fakes.fake_content import install
from tests.unit.pipeline_world import World, settings, vocab_csv


class Stage2:
    """A finished Stage 1 run in memory, and `content_step` wired as the Content handler wires it."""

    def __init__(self) -> None:
        self.world = World(settings=settings(content_conversations=2, content_stories=1))
        install(self.world.fake)
        planned = self.world.plan(self.world.upload(vocab_csv(6)))
        self.world.generate_all(planned)
        self.world.finalize(planned.run_id)
        [event] = self.world.events.of_type(GENERATED)
        self.detail = ItemsGeneratedDetail.model_validate(event)
        self.stage1_requests = len(self.world.fake.requests)
        self.stage1_metrics = len(self.world.metrics.records)
        self.llm_built = 0

    def llm(self) -> InstructorClaude:
        self.llm_built += 1
        return self.world.llm()

    def run(self, detail: ItemsGeneratedDetail | None = None) -> ContentOutcome:
        world = self.world
        return content_step(
            detail or self.detail,
            store=world.store,
            rows=world.content_rows,
            events=world.events,
            llm=self.llm,
            metrics_sink=world.metrics,
            settings=world.settings,
        )

    @property
    def content_requests(self) -> int:
        return len(self.world.fake.requests) - self.stage1_requests

    def activity(self) -> tuple[object, ...]:
        """Everything the step can do: clients built, requests, S3 writes, events, rows, metrics."""
        world = self.world
        return (
            self.llm_built,
            len(world.fake.requests),
            world.store.snapshot(),
            world.events.published[:],
            world.content_rows.writes,
            world.metrics.records[:],
        )


def test_content_is_written_to_s3_and_the_table_and_announced() -> None:
    # Given a SUCCEEDED run's LearningItemsGenerated event
    stage = Stage2()
    world, run_id = stage.world, stage.detail.run_id

    # When the content step runs
    outcome = stage.run()

    # Then content.json holds the conversations and stories asked for, citing the run's items
    key = ContentKeys(run_id).content
    document = ContentDocument.model_validate(world.store.get_json(key))
    assert (outcome.status, outcome.content_key, outcome.vocab_from_items) == (ContentStatus.SUCCEEDED, key, False)
    assert (outcome.conversations, outcome.stories) == (len(document.conversations), len(document.stories)) == (2, 1)
    item_ids = {item.id for item in world.result_items(run_id)}
    assert all(set(piece.item_ids) <= item_ids and piece.item_ids for piece in document.pieces())

    # and every piece is a row of the content table
    assert sorted(p.id for p in world.content_rows.list_content(run_id)) == sorted(p.id for p in document.pieces())

    # and LearningContentGenerated announces the document, with content.json written after everything else
    generated = ContentGeneratedDetail.of(document, world.store.bucket, key)
    assert world.events.of_type(CONTENT_GENERATED) == [generated.model_dump(mode="json")]
    assert world.store.writes[-1] == key

    # and each content call left a metric and a cached chunk, and the cost is theirs
    content_metrics = world.metrics.records[stage.stage1_metrics :]
    assert len(content_metrics) == stage.content_requests > 0
    assert {m.category for m in content_metrics} == {CONTENT_METRIC_PREFIX + kind for kind in ("conversation", "story")}
    assert not any(m.failed for m in content_metrics)
    assert len(world.store.keys(f"scratch/{run_id}/content/")) == stage.content_requests
    assert outcome.cost_usd == document.summary.cost_usd > 0
    assert stage.llm_built == 1


def test_an_existing_content_json_ends_the_step_without_an_llm_call() -> None:
    # Given the content of the run already written
    stage = Stage2()
    first = stage.run()
    before = stage.activity()

    # When the event is delivered again
    again = stage.run()

    # Then the step reports the existing content and does nothing else
    assert again.status is ContentStatus.EXISTING
    assert again.model_dump(exclude={"status"}) == first.model_dump(exclude={"status"})
    assert stage.activity() == before


def test_a_retry_after_a_failed_call_pays_only_for_that_call() -> None:
    # Given the story call rejected on the first delivery
    stage = Stage2()
    stage.world.fake.script(status=400, match="Write exactly 1 stories.")
    with pytest.raises(ContentGenerationFailed):
        stage.run()
    failed_attempt_requests = stage.content_requests
    assert stage.world.store.get_json(ContentKeys(stage.detail.run_id).content) is None
    assert stage.world.events.of_type(CONTENT_GENERATED) == []

    # When the event is delivered again
    outcome = stage.run()

    # Then only the story call is made again, and the content is complete
    assert stage.content_requests == failed_attempt_requests + 1
    assert (outcome.status, outcome.conversations, outcome.stories) == (ContentStatus.SUCCEEDED, 2, 1)
    assert [m.failed for m in stage.world.metrics.records[stage.stage1_metrics :]].count(True) == 1


def test_calls_that_fail_for_good_are_announced_before_the_error_propagates() -> None:
    # Given the story call rejected on the first delivery
    stage = Stage2()
    stage.world.fake.script(status=400, match="Write exactly 1 stories.")

    # When the content step runs
    with pytest.raises(ContentGenerationFailed) as raised:
        stage.run()

    # Then LearningContentGenerationFailed names the run and the error, and no content is announced
    [failed] = stage.world.events.of_type(CONTENT_GENERATION_FAILED)
    assert failed == {
        "run_id": stage.detail.run_id,
        "status": "FAILED",
        "error_type": "ContentGenerationFailed",
        "message": str(raised.value),
        "failed_at": failed["failed_at"],
    }
    assert datetime.fromisoformat(failed["failed_at"]).tzinfo is not None
    assert stage.world.events.of_type(CONTENT_GENERATED) == []

    # When the event is delivered again, and once more after the content is written
    stage.run()
    stage.run()

    # Then the content is announced once, and the failure is not announced again
    assert len(stage.world.events.of_type(CONTENT_GENERATED)) == 1
    assert stage.world.events.of_type(CONTENT_GENERATION_FAILED) == [failed]


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"status": RunStatus.FAILED}, "run FAILED"), ({"items_total": 0}, "the run has no items")],
    ids=["failed-run", "no-items"],
)
def test_a_run_without_items_to_use_is_skipped_without_a_client(change: dict[str, object], reason: str) -> None:
    stage = Stage2()
    before = stage.activity()

    outcome = stage.run(stage.detail.model_copy(update=change))

    assert (outcome.status, outcome.reason) == (ContentStatus.SKIPPED, reason)
    assert stage.activity() == before
    assert stage.llm_built == 0


def test_once_plans_vocab_has_expired_the_items_words_are_the_vocabulary() -> None:
    stage = Stage2()
    stage.world.store.delete(RunKeys(stage.detail.run_id).vocab)  # scratch/ expires before a late redelivery

    outcome = stage.run()

    assert (outcome.status, outcome.vocab_from_items) == (ContentStatus.SUCCEEDED, True)


def test_a_run_that_copied_an_earlier_runs_batches_copies_its_content_without_a_call() -> None:
    # Given a run with content, and the same list uploaded again (a new run that copies the first's batches)
    stage = Stage2()
    stage.run()
    world, first = stage.world, stage.detail.run_id
    planned = world.plan(world.upload(vocab_csv(6)))
    world.generate_all(planned)
    world.finalize(planned.run_id)
    detail = ItemsGeneratedDetail.model_validate(world.events.of_type(GENERATED)[-1])
    assert detail.run_id != first and detail.reused_from == first
    requests = len(world.fake.requests)

    # When the new run's event reaches the content step
    outcome = stage.run(detail)

    # Then it makes no call, and the first run's content is the new run's, at no cost, announced for it
    assert outcome.status is ContentStatus.EXISTING and len(world.fake.requests) == requests
    earlier = ContentDocument.model_validate(world.store.get_json(ContentKeys(first).content))
    copied = ContentDocument.model_validate(world.store.get_json(ContentKeys(detail.run_id).content))
    assert [p.id for p in copied.pieces()] == [p.id for p in earlier.pieces()] and copied.run_id == detail.run_id
    assert copied.summary.cost_usd == 0 and earlier.summary.cost_usd > 0
    assert world.events.of_type(CONTENT_GENERATED)[-1]["run_id"] == detail.run_id

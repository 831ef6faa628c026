"""What the step tests share: the in-memory ports, the fake Claude, and the steps driven as the handlers drive them.

    world = World()
    source = world.upload(vocab_csv(6))
    planned = world.plan(source)               # plan_upload: read_object + plan_step
    world.generate_all(planned)                # generate_step for every batch of the manifest
    summary = world.finalize(planned.run_id)   # finalize_step

No sockets and no moto: the LLM is the real `InstructorClaude` over `FakeClaude`'s in-process transport.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from havachat.generation import LlmBatchGenerator
from havachat.llm import InstructorClaude
from havachat.models import BatchSpec, Category, LearningItem, VocabItem, VocabList
from havachat.pipeline.contracts import (
    BatchInput,
    BatchOutput,
    BatchRecord,
    PlanOutput,
    PlanRequest,
    RunSummary,
    S3Object,
)
from havachat.pipeline.finalize import finalize_step
from havachat.pipeline.generate import generate_step
from havachat.pipeline.keys import RunKeys
from havachat.pipeline.plan import UploadPlanner, plan_request, plan_upload
from havachat.settings import Provider, Settings
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.memory import (
    MemoryContentRows,
    MemoryEvents,
    MemoryItems,
    MemoryMetrics,
    MemoryReport,
    MemoryRuns,
    MemoryStore,
)
from tests.helpers import FIXTURES_DIR, load_event

MODEL = "claude-sonnet-4-6"
UPLOAD_BUCKET = "uploads-bucket"
UPLOAD_KEY = "uploads/zh/HSK1/list.csv"


def vocab_csv(words: int) -> bytes:
    """The first `words` rows of the HSK 1 fixture, header included."""
    lines = (FIXTURES_DIR / "vocab" / "zh_hsk1.csv").read_text(encoding="utf-8").splitlines()
    return ("\n".join(lines[: words + 1]) + "\n").encode()


def upload_event(source: S3Object, event_id: str = "evt-1") -> dict[str, Any]:
    """The EventBridge `Object Created` event of `source` (the sample in `events/`, pointed at it)."""
    event = load_event("s3_object_created")
    event["id"] = event_id
    event["detail"]["bucket"]["name"] = source.bucket
    event["detail"]["object"].update({"key": source.key, "version-id": source.version_id, "etag": source.etag})
    return event


def settings(**overrides: Any) -> Settings:
    """Claude as the generator, no coverage follow-up; the rest as deployed unless overridden."""
    values: dict[str, Any] = {"provider": Provider.ANTHROPIC, "model": MODEL, "coverage_followup": False, **overrides}
    return Settings(**values)


@dataclass
class World:
    settings: Settings = field(default_factory=settings)
    store: MemoryStore = field(default_factory=MemoryStore)
    runs: MemoryRuns = field(default_factory=MemoryRuns)
    items: MemoryItems = field(default_factory=MemoryItems)
    events: MemoryEvents = field(default_factory=MemoryEvents)
    metrics: MemoryMetrics = field(default_factory=MemoryMetrics)
    content_rows: MemoryContentRows = field(default_factory=MemoryContentRows)
    fake: FakeClaude = field(default_factory=FakeClaude)
    validation_max_retries: int = 1
    _llm: InstructorClaude | None = field(default=None, init=False, repr=False)

    def upload(self, data: bytes, key: str = UPLOAD_KEY) -> S3Object:
        """A user's PUT to the upload bucket: the S3 object the event names."""
        version_id = self.store.upload(UPLOAD_BUCKET, key, data)
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()  # a single-part upload's ETag
        return S3Object(bucket=UPLOAD_BUCKET, key=key, version_id=version_id, etag=etag)

    def plan(self, source: S3Object, owner: str = "exec-1", settings: Settings | None = None) -> PlanOutput:
        """`plan_upload`: a ranged read of the upload, then `plan_step`."""
        settings = settings or self.settings
        return plan_upload(source, owner=owner, store=self.store, runs=self.runs, settings=settings)

    def plan_request(
        self,
        request: PlanRequest,
        owner: str,
        report: MemoryReport | None = None,
        plan_once: UploadPlanner = plan_upload,
    ) -> PlanOutput:
        """`plan_request` over this world's store, runs and settings (a fresh report unless one is given)."""
        return plan_request(
            request,
            owner=owner,
            store=self.store,
            runs=self.runs,
            settings=self.settings,
            report=report or MemoryReport(),
            plan_once=plan_once,
        )

    def llm(self) -> InstructorClaude:
        """Claude over the fake, without SDK retries: a scripted error reaches the step at once."""
        if self._llm is None:
            client = self.fake.client(max_retries=0)
            self._llm = InstructorClaude(client, self.settings.model, self.validation_max_retries)
        return self._llm

    def generator(self) -> LlmBatchGenerator:
        """Batches made by `llm()` with the settings' answer and split limits, as GenerateBatch makes them."""
        return LlmBatchGenerator(
            self.llm(), self.settings.max_tokens, self.settings.max_split_depth, self.settings.coverage_followup
        )

    def manifest(self, planned: PlanOutput) -> list[BatchSpec]:
        assert planned.manifest_key is not None
        return [BatchSpec.model_validate(spec) for spec in self.store.get_json(planned.manifest_key) or []]

    def batch_input(self, planned: PlanOutput, spec: BatchSpec) -> BatchInput:
        assert planned.language is not None and planned.level is not None
        return BatchInput(run_id=planned.run_id, language=planned.language, level=planned.level, batch=spec)

    def generate(self, planned: PlanOutput, spec: BatchSpec) -> BatchOutput:
        return generate_step(self.batch_input(planned, spec), self.store, self.generator, self.metrics)

    def generate_all(self, planned: PlanOutput, skip: Iterable[Category] = ()) -> list[BatchOutput]:
        """Every batch of the manifest but those of the `skip` categories, one after the other."""
        skipped = set(skip)
        return [self.generate(planned, spec) for spec in self.manifest(planned) if spec.category not in skipped]

    def finalize(self, run_id: str, **kwargs: Any) -> RunSummary:
        return finalize_step(run_id, self.store, self.runs, self.items, self.events, **kwargs)

    def batch_record(self, run_id: str, batch_id: str) -> BatchRecord | None:
        data = self.store.get_json(RunKeys(run_id).batch_output(batch_id))
        return BatchRecord.model_validate(data) if data is not None else None

    def vocab(self, run_id: str) -> list[VocabItem]:
        return VocabList.model_validate(self.store.get_json(RunKeys(run_id).vocab)).items

    def result_items(self, run_id: str) -> list[LearningItem]:
        """`items.jsonl` of the run."""
        return [LearningItem.model_validate(row) for row in self.store.get_jsonl(RunKeys(run_id).items)]

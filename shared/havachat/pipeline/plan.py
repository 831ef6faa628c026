"""Plan: validate the uploaded vocab, decide the batches, write the vocab, its chunks and the manifest, record the run.

Idempotent: the run id is derived from the object version and the run record is created with a
conditional put; the execution that created it owns it (its own retries go on, any other
execution for the same object version is a duplicate and stops). Content already generated with
the same model, prompt and settings is reused instead of generated again, and a PARTIAL or
FAILED run can be resumed (`resume_step`): only the batches without output run again.

`plan_request` is what the Plan handler calls: a resume, or the upload planned once per object
version (`plan_upload`, which the handler makes idempotent through Powertools).
"""

from __future__ import annotations

import hashlib
import json
from typing import Protocol

from havachat.cost_cap import estimated_cost_usd, refusal
from havachat.errors import InvalidVocabFile, UploadNotFound, VocabProblem
from havachat.languages.dictionary import fill_from_dictionaries
from havachat.ledger import UsageTotals
from havachat.models import Level, RunPlan, VocabList
from havachat.pipeline.contracts import (
    BatchRecord,
    PlanOutput,
    PlanRequest,
    ResumeRequest,
    RunRecord,
    RunStatus,
    S3Object,
    now_iso,
)
from havachat.pipeline.keys import RunKeys, content_index_key, run_id_for
from havachat.pipeline.ports import PlanReport, Runs, Store, UploadStore
from havachat.planning import plan_with_settings
from havachat.rate_limits import map_concurrency
from havachat.settings import LlmMode, Settings
from havachat.vocab import VocabLimits, context_from_key, parse_vocab


def plan_upload(source: S3Object, *, owner: str, store: UploadStore, runs: Runs, settings: Settings) -> PlanOutput:
    """`plan_step` on the uploaded object's bytes: at most `max_file_bytes` are read (a larger file is refused).

    The event's key is read URL-decoded; when no such object exists and the key was changed by the
    decoding (a `+` or `%` in a key delivered unencoded), the key as delivered is read instead.
    """
    try:
        data, size = store.read_object(source.bucket, source.key, source.version_id, settings.max_file_bytes)
    except UploadNotFound:
        if source.key_as_delivered is None:
            raise
        source = source.model_copy(update={"key": source.key_as_delivered, "key_as_delivered": None})
        data, size = store.read_object(source.bucket, source.key, source.version_id, settings.max_file_bytes)
    return plan_step(source, data, owner=owner, store=store, runs=runs, settings=settings, size=size)


class UploadPlanner(Protocol):
    """`plan_upload`, or `plan_upload` run once per object version (its `source` argument)."""

    def __call__(
        self, *, source: S3Object, owner: str, store: UploadStore, runs: Runs, settings: Settings
    ) -> PlanOutput: ...


def plan_request(
    request: PlanRequest,
    *,
    owner: str,
    store: UploadStore,
    runs: Runs,
    settings: Settings,
    report: PlanReport,
    plan_once: UploadPlanner = plan_upload,
) -> PlanOutput:
    """Resume the run the request names, or plan its upload once (`plan_once`), for `owner`.

    A stored plan of another execution, which `plan_once` returns for the same object version, is a
    duplicate for this one.
    """
    mode = {"llm_mode": settings.llm_mode.value, "batch_poll_seconds": settings.batch_poll_seconds}
    if isinstance(request.event, ResumeRequest):
        cap = request.event.max_cost_usd
        cap = settings.max_run_cost_usd if cap is None else cap
        output = resume_step(
            request.event.resume_run_id, owner=owner, store=store, runs=runs, max_cost_usd=cap, settings=settings
        )
        output = output.model_copy(update=mode)
        report.resumed(output)
        return output
    source = request.event.uploaded_object()
    output = plan_once(source=source, owner=owner, store=store, runs=runs, settings=settings)
    if output.owner is not None and output.owner != owner:
        output = output.model_copy(update={"duplicate": True})
    if output.max_concurrency is None:  # a plan stored before Plan decided the concurrency
        output = output.model_copy(update={"max_concurrency": settings.map_concurrency})
    output = output.model_copy(update=mode)  # this execution's mode, also for a stored plan of an earlier one
    report.planned(output, source)
    return output


def plan_step(
    source: S3Object,
    data: bytes,
    *,
    owner: str,
    store: Store,
    runs: Runs,
    settings: Settings,
    size: int | None = None,
) -> PlanOutput:
    """Validate the vocab, decide the batches, write vocab/plan/manifest to S3 and record the run.

    A different owner's run for the same object version makes this a duplicate. A bad file is
    recorded as a FAILED run with its problems and raised as `InvalidVocabFile`. `size` is the
    object's full size when `data` is only its first bytes (a ranged read). If the same content
    was generated before with the same model, prompt and settings, that run's batch outputs are
    copied (no LLM call; `reused_from` in the run record and summary). With a cost cap
    (`max_run_cost_usd`) a plan whose estimate is over it is written, the run recorded FAILED and
    `CostCapExceeded` raised: a resume with a higher cap runs it.
    """
    run_id = run_id_for(source.bucket, source.key, source.version_id or source.etag)
    now = now_iso()
    record = RunRecord(
        run_id=run_id, status=RunStatus.PLANNING, owner=owner, input=source, created_at=now, updated_at=now
    )
    existing = runs.create(record)
    if existing is not None and existing.owner != owner:
        return PlanOutput(run_id=run_id, duplicate=True, status=existing.status, owner=existing.owner)

    keys = RunKeys(run_id)
    try:
        vocab, language, level = _read_vocab(source, data, settings, size)
        vocab = fill_from_dictionaries(vocab, language)
        try:
            plan = plan_with_settings(vocab, settings, run_id=run_id, language=language, level=level)
        except ValueError as exc:  # nothing to plan
            raise InvalidVocabFile([VocabProblem(source.key, str(exc))]) from exc
    except InvalidVocabFile as exc:
        runs.update(
            run_id, status=RunStatus.FAILED.value, problems=[str(p) for p in exc.problems], updated_at=now_iso()
        )
        raise

    content_key = content_key_for(data, plan, settings)
    reused_from = _reuse_batch_outputs(content_key, plan, store, runs)
    store.put_json(keys.vocab, vocab.model_dump(mode="json"))
    chunks = {spec.chunk_index: (spec.word_start, spec.word_end) for spec in plan.batches}
    for chunk_index, (start, end) in chunks.items():  # one slice per chunk, shared by its categories
        chunk = vocab.model_copy(update={"items": vocab.items[start:end], "warnings": []})
        store.put_json(keys.chunk(chunk_index), chunk.model_dump(mode="json"))
    store.put_json(keys.plan, plan.model_dump(mode="json"))
    store.put_json(keys.manifest, [b.model_dump(mode="json") for b in plan.batches])
    cap = settings.max_run_cost_usd or None
    estimate = estimated_cost_usd(plan, batch=settings.llm_mode is LlmMode.BATCH) if cap else None
    refused = refusal(estimate or 0.0, cap, len(plan.batches))
    runs.update(
        run_id,
        status=(RunStatus.FAILED if refused else RunStatus.RUNNING).value,
        problems=[str(refused)] if refused else None,
        language=language,
        level=str(level),
        batch_count=len(plan.batches),
        content_key=content_key,
        reused_from=reused_from,
        max_cost_usd=cap,
        estimated_cost_usd=estimate,
        updated_at=now_iso(),
    )
    if refused:
        raise refused
    return PlanOutput(
        run_id=run_id,
        status=RunStatus.RUNNING,
        manifest_key=keys.manifest,
        batch_count=len(plan.batches),
        language=language,
        level=level,
        owner=owner,
        reused_from=reused_from,
        max_cost_usd=cap,
        max_concurrency=map_concurrency(plan, settings),
    )


def _read_vocab(source: S3Object, data: bytes, settings: Settings, size: int | None) -> tuple[VocabList, str, Level]:
    """The parsed vocab with its language and level (from the key, else the JSON envelope), its words'
    scripts checked against that language."""
    context = context_from_key(source.key)
    if size is not None and size > settings.max_file_bytes:
        problem = f"the file is {size:,} bytes, over the limit of {settings.max_file_bytes:,} bytes"
        raise InvalidVocabFile([VocabProblem(source.key, problem)])
    vocab = parse_vocab(data, source.key, VocabLimits.from_settings(settings), context.language)
    language = context.language or vocab.language
    level = context.level or vocab.level
    if not language or level is None:
        problem = "no level given: use uploads/<language>/<level>/<name> or a JSON envelope with a level"
        raise InvalidVocabFile([VocabProblem(source.key, problem)])
    return vocab, language, level


def content_key_for(data: bytes, plan: RunPlan, settings: Settings) -> str:
    """What decides a run's output: the file's bytes, its language and level, the model, the prompt
    version and the batches (which carry the chunking settings), the answer and split limits and
    the generator settings."""
    decided = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "language": plan.language,
        "level": str(plan.level),
        "model": plan.model,
        "prompt_version": plan.prompt_version,
        "max_tokens": plan.max_tokens,
        "max_split_depth": settings.max_split_depth,
        "provider": settings.provider.value,  # which generator (LLM or offline) makes the items
        "coverage_followup": settings.coverage_followup,
        "batches": [b.model_dump(mode="json") for b in plan.batches],
    }
    return hashlib.sha256(json.dumps(decided, sort_keys=True, default=str).encode()).hexdigest()


def _reuse_batch_outputs(content_key: str, plan: RunPlan, store: Store, runs: Runs) -> str | None:
    """Copy the batch outputs of the last finished run with this content key; returns its run id.

    The copies carry zero usage (nothing was spent again) and the items keep the provenance of the
    run that generated them. A batch the earlier run lacks is generated as usual. The index points
    at the last run that finished SUCCEEDED, else at the newest run with this content.
    """
    keys = RunKeys(plan.run_id)
    pointer = store.get_json(content_index_key(content_key))
    earlier_id = pointer.get("run_id") if isinstance(pointer, dict) else None
    earlier = runs.get(earlier_id) if earlier_id and earlier_id != plan.run_id else None
    copied = 0
    if earlier is not None and earlier.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
        for spec in plan.batches:
            data = store.get_json(RunKeys(earlier.run_id).batch_output(spec.batch_id))
            if data is None:
                continue
            batch = BatchRecord.model_validate(data)
            output = batch.output.model_copy(update={"run_id": plan.run_id, "usage": UsageTotals()})
            store.put_json(
                keys.batch_output(spec.batch_id), BatchRecord(output=output, items=batch.items).model_dump(mode="json")
            )
            copied += 1
    if earlier is None or earlier.status is not RunStatus.SUCCEEDED:
        store.put_json(content_index_key(content_key), {"run_id": plan.run_id, "at": now_iso()})
    return earlier.run_id if earlier is not None and copied else None


RESUMABLE = (RunStatus.PARTIAL, RunStatus.FAILED)


def resume_step(
    run_id: str,
    *,
    owner: str,
    store: Store,
    runs: Runs,
    settings: Settings,
    max_cost_usd: float | None = None,
) -> PlanOutput:
    """Plan for re-running a PARTIAL or FAILED run: the same manifest, `owner` takes the run over.

    GenerateBatch returns existing batch outputs without an LLM call, so only the batches that
    failed run again; Finalize then merges all of them. A run that is unknown, never planned or
    not resumable (SUCCEEDED, or RUNNING under another execution) gives `duplicate` with a note.
    `max_cost_usd` is the run's cost cap from now on (0 or None: none); the spend so far counts
    against it, and the estimate is not checked again. The Map's concurrency is decided again from
    `settings` (`rate_limits.map_concurrency`).
    """
    record = runs.get(run_id)
    plan_data = store.get_json(RunKeys(run_id).plan)
    if record is None or plan_data is None:
        note = f"run {run_id} is unknown" if record is None else f"run {run_id} was never planned (invalid file?)"
        status = record.status if record else RunStatus.FAILED
        return PlanOutput(run_id=run_id, duplicate=True, status=status, note=note)
    statuses = tuple(status.value for status in RESUMABLE)
    if not runs.claim(run_id, owner, statuses, RunStatus.RUNNING.value, now_iso()):
        note = f"run {run_id} is {record.status.value} (owner {record.owner}); only PARTIAL or FAILED runs resume"
        return PlanOutput(run_id=run_id, duplicate=True, status=record.status, owner=record.owner, note=note)
    plan = RunPlan.model_validate(plan_data)
    cap = max_cost_usd or None
    if cap or record.max_cost_usd:
        runs.update(run_id, max_cost_usd=cap or 0.0)
    return PlanOutput(
        run_id=run_id,
        status=RunStatus.RUNNING,
        manifest_key=RunKeys(run_id).manifest,
        batch_count=len(plan.batches),
        language=plan.language,
        level=plan.level,
        owner=owner,
        reused_from=record.reused_from,
        max_cost_usd=cap,
        max_concurrency=map_concurrency(plan, settings),
    )

"""Plan and resume as plain steps over the in-memory ports: validation, chunks, ownership, reuse, resume."""

from __future__ import annotations

import re

import pytest

from havachat.errors import InvalidVocabFile, UploadNotFound
from havachat.ledger import UsageTotals
from havachat.models import Category, Level, RunPlan, VocabList
from havachat.pipeline.contracts import PlanOutput, PlanRequest, RunStatus
from havachat.pipeline.keys import RunKeys, content_index_key, run_id_for
from havachat.pipeline.plan import content_key_for, plan_upload, resume_step
from tests.fakes.memory import MemoryIdempotency, MemoryReport
from tests.unit.pipeline_world import UPLOAD_BUCKET, UPLOAD_KEY, World, settings, upload_event, vocab_csv


def test_a_valid_csv_is_planned_running_with_its_vocab_chunks_manifest_and_record() -> None:
    # Given 12 words and a token budget small enough to split them into several chunks
    world = World(settings=settings(chunk_token_budget=3400))
    data = vocab_csv(12)
    source = world.upload(data)

    # When Plan runs
    planned = world.plan(source, owner="exec-1")

    # Then the run is RUNNING under a run id derived from the object version
    keys = RunKeys(planned.run_id)
    assert planned.run_id == run_id_for(UPLOAD_BUCKET, UPLOAD_KEY, source.version_id)
    assert (planned.status, planned.duplicate, planned.owner) == (RunStatus.RUNNING, False, "exec-1")
    assert (planned.language, planned.level, planned.manifest_key) == ("zh", Level.parse("HSK1"), keys.manifest)

    # and the vocab holds the file's words in order
    csv_words = [line.split(",")[0] for line in data.decode().splitlines()[1:]]
    vocab = VocabList.model_validate(world.store.get_json(keys.vocab))
    assert vocab.words == csv_words

    # and the manifest has one batch per category and chunk, the same as the plan's
    manifest = world.manifest(planned)
    plan = RunPlan.model_validate(world.store.get_json(keys.plan))
    chunks = sorted({spec.chunk_index for spec in manifest})
    assert len(chunks) >= 2, "the budget should split the list"
    assert plan.batches == manifest
    assert planned.batch_count == len(manifest)
    assert sorted((s.category, s.chunk_index) for s in manifest) == sorted(
        (category, chunk) for category in Category for chunk in chunks
    )

    # and each chunk's slice holds exactly its words, the slices covering the list once
    bounds = {spec.chunk_index: (spec.word_start, spec.word_end) for spec in manifest}
    sliced = []
    for chunk in chunks:
        start, end = bounds[chunk]
        chunk_vocab = VocabList.model_validate(world.store.get_json(keys.chunk(chunk)))
        assert chunk_vocab.items == vocab.items[start:end]
        sliced.extend(chunk_vocab.words)
    assert sliced == csv_words
    assert world.store.keys(f"scratch/{planned.run_id}/chunks/") == [keys.chunk(chunk) for chunk in chunks]

    # and the run record says what was planned, with the content key an identical upload would find
    record = world.runs.get(planned.run_id)
    assert record is not None
    assert (record.status, record.owner, record.input) == (RunStatus.RUNNING, "exec-1", source)
    assert (record.language, record.level, record.batch_count) == ("zh", str(Level.parse("HSK1")), len(manifest))
    assert record.content_key == content_key_for(data, plan, world.settings)
    pointer = world.store.get_json(content_index_key(record.content_key))
    assert isinstance(pointer, dict) and pointer["run_id"] == planned.run_id
    assert record.reused_from is None


def test_the_same_object_version_planned_by_another_owner_is_a_duplicate_that_writes_nothing() -> None:
    # Given exec-1 planned the upload
    world = World()
    source = world.upload(vocab_csv(6))
    first = world.plan(source, owner="exec-1")
    stored, record = world.store.snapshot(), world.runs.get(first.run_id)

    # When a second execution for the same object version plans it
    second = world.plan(source, owner="exec-2")

    # Then it is a duplicate naming the owner, and neither the bucket nor the record changed
    assert (second.run_id, second.duplicate, second.owner, second.status) == (
        first.run_id,
        True,
        "exec-1",
        RunStatus.RUNNING,
    )
    assert second.manifest_key is None and second.batch_count == 0
    assert world.store.snapshot() == stored
    assert world.runs.get(first.run_id) == record


def test_the_owner_retrying_plan_gets_the_same_run_and_another_version_is_another_run() -> None:
    world = World()
    source = world.upload(vocab_csv(6))
    first = world.plan(source, owner="exec-1")

    retried = world.plan(source, owner="exec-1")
    other_version = world.plan(world.upload(vocab_csv(6)), owner="exec-2")

    assert not retried.duplicate
    assert retried == first
    assert not other_version.duplicate and other_version.run_id != first.run_id
    assert world.runs.run_ids() == sorted({first.run_id, other_version.run_id})


@pytest.mark.parametrize(
    ("key", "data", "problem"),
    [
        (UPLOAD_KEY, "word,definition\n你好,hello,extra\n".encode(), r"row 2: 3 cells but the header has 2"),
        (UPLOAD_KEY, b"", r"no vocabulary rows"),
        (UPLOAD_KEY, b"definition\nhello\n", r"no word column"),
        (UPLOAD_KEY, b"word\n\xff\xfe\n", r"not valid UTF-8"),
        ("uploads/list.csv", "word\n你好\n".encode(), r"uploads/<language>/<level>/"),
    ],
    ids=["ragged", "empty", "no-word-column", "not-utf8", "no-level"],
)
def test_a_bad_file_is_recorded_failed_with_its_problems_and_raises(key: str, data: bytes, problem: str) -> None:
    world = World()
    source = world.upload(data, key=key)
    run_id = run_id_for(source.bucket, source.key, source.version_id)

    with pytest.raises(InvalidVocabFile) as raised:
        world.plan(source)

    problems = [str(p) for p in raised.value.problems]
    assert any(re.search(problem, p) for p in problems), problems
    assert all(p.startswith(key) for p in problems)  # each problem names the file
    record = world.runs.get(run_id)
    assert record is not None
    assert (record.status, record.problems) == (RunStatus.FAILED, problems)
    assert world.store.keys(f"scratch/{run_id}/") == []  # nothing planned, nothing to generate


def test_a_file_over_the_size_limit_is_rejected_with_its_real_size_from_a_ranged_read() -> None:
    world = World(settings=settings(max_file_bytes=100))
    data = vocab_csv(40)
    source = world.upload(data)

    with pytest.raises(InvalidVocabFile) as raised:
        world.plan(source)

    assert f"{len(data):,} bytes" in str(raised.value)
    assert "limit of 100 bytes" in str(raised.value)


def test_identical_content_reuses_a_succeeded_runs_batch_outputs_with_zero_usage() -> None:
    # Given a run of the list that SUCCEEDED, its batches generated by Claude
    world = World()
    data = vocab_csv(6)
    earlier = world.plan(world.upload(data), owner="exec-1")
    world.generate_all(earlier)
    assert world.finalize(earlier.run_id).status is RunStatus.SUCCEEDED
    requests = len(world.fake.requests)

    # When the same bytes are uploaded again (a new object version, so a new run)
    planned = world.plan(world.upload(data), owner="exec-2")

    # Then Plan copied every batch output, with the items and no usage, and says where from
    assert planned.run_id != earlier.run_id
    assert planned.reused_from == earlier.run_id
    record = world.runs.get(planned.run_id)
    assert record is not None and record.reused_from == earlier.run_id
    for spec in world.manifest(planned):
        original = world.batch_record(earlier.run_id, spec.batch_id)
        copied = world.batch_record(planned.run_id, spec.batch_id)
        assert original is not None and copied is not None
        assert original.output.usage.calls == 1  # what the copy did not pay again
        assert copied.output.usage == UsageTotals()
        assert copied.output.run_id == planned.run_id
        assert copied.items == original.items

    # and the new run finishes without a request to Claude, with the same items
    world.generate_all(planned)
    summary = world.finalize(planned.run_id)
    assert len(world.fake.requests) == requests
    assert (summary.status, summary.reused_from, summary.usage.calls) == (RunStatus.SUCCEEDED, earlier.run_id, 0)
    assert [i.id for i in world.result_items(planned.run_id)] == [i.id for i in world.result_items(earlier.run_id)]


@pytest.mark.parametrize("change", ["model", "bytes"])
def test_content_generated_with_another_model_or_from_other_bytes_is_not_reused(change: str) -> None:
    world = World()
    earlier = world.plan(world.upload(vocab_csv(6)))
    world.generate_all(earlier)
    world.finalize(earlier.run_id)

    if change == "model":
        planned = world.plan(world.upload(vocab_csv(6)), settings=settings(model="claude-opus-4-1"))
    else:
        planned = world.plan(world.upload(vocab_csv(7)))

    assert planned.reused_from is None
    assert world.store.keys(f"scratch/{planned.run_id}/batches/") == []


def test_resume_claims_a_partial_run_and_only_its_failed_batches_run_again() -> None:
    # Given a PARTIAL run: the cultural batch left no output
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)), owner="exec-1")
    world.generate_all(planned, skip=[Category.CULTURAL])
    assert world.finalize(planned.run_id).status is RunStatus.PARTIAL
    requests = len(world.fake.requests)

    # When exec-2 resumes it
    resumed = resume_step(planned.run_id, owner="exec-2", store=world.store, runs=world.runs, settings=world.settings)

    # Then exec-2 owns the RUNNING run, with the same manifest
    assert (resumed.duplicate, resumed.status, resumed.owner) == (False, RunStatus.RUNNING, "exec-2")
    assert (resumed.manifest_key, resumed.batch_count) == (planned.manifest_key, planned.batch_count)
    record = world.runs.get(planned.run_id)
    assert record is not None and (record.status, record.owner) == (RunStatus.RUNNING, "exec-2")

    # and another execution cannot take it over while exec-2 runs it, though exec-2's own retry can
    other = resume_step(planned.run_id, owner="exec-3", store=world.store, runs=world.runs, settings=world.settings)
    assert other.duplicate and other.owner == "exec-2" and other.note is not None and "RUNNING" in other.note
    assert not resume_step(
        planned.run_id, owner="exec-2", store=world.store, runs=world.runs, settings=world.settings
    ).duplicate

    # and generating the whole manifest again asks Claude about the missing batch only
    world.generate_all(resumed)
    assert len(world.fake.requests) == requests + 1
    summary = world.finalize(planned.run_id)
    assert (summary.status, summary.failed_batches) == (RunStatus.SUCCEEDED, [])


def test_resume_of_a_failed_run_clears_its_error() -> None:
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))
    world.finalize(planned.run_id, failure={"Error": "States.Timeout", "Cause": "Map timed out"})

    resumed = resume_step(planned.run_id, owner="exec-2", store=world.store, runs=world.runs, settings=world.settings)

    record = world.runs.get(planned.run_id)
    assert not resumed.duplicate
    assert record is not None and (record.status, record.owner, record.error) == (RunStatus.RUNNING, "exec-2", None)


@pytest.mark.parametrize("state", ["succeeded", "running", "unknown", "never-planned"])
def test_resume_refuses_a_run_that_is_not_partial_or_failed(state: str) -> None:
    world = World()
    if state == "never-planned":  # the file was rejected: a FAILED record without a plan
        source = world.upload(b"")
        with pytest.raises(InvalidVocabFile):
            world.plan(source, owner="exec-1")
        run_id = run_id_for(source.bucket, source.key, source.version_id)
    elif state == "unknown":
        run_id = "no-such-run"
    else:
        planned = world.plan(world.upload(vocab_csv(6)), owner="exec-1")
        run_id = planned.run_id
        if state == "succeeded":
            world.generate_all(planned)
            world.finalize(run_id)
    before = world.runs.get(run_id)

    resumed = resume_step(run_id, owner="exec-2", store=world.store, runs=world.runs, settings=world.settings)

    assert resumed.duplicate and resumed.manifest_key is None
    assert resumed.note is not None and run_id in resumed.note
    assert world.runs.get(run_id) == before  # not claimed
    expected = {
        "succeeded": "SUCCEEDED",
        "running": "RUNNING",
        "unknown": "unknown",
        "never-planned": "never planned",
    }[state]
    assert expected in resumed.note


# -- plan_request: what the Plan handler calls ----------------------------------------------------------


def test_a_plan_request_plans_the_uploaded_object_for_the_execution_and_reports_it() -> None:
    world = World()
    source = world.upload(vocab_csv(6))
    request = PlanRequest.model_validate({"event": upload_event(source), "execution_id": "exec-1"})
    report = MemoryReport()

    output = world.plan_request(request, owner=request.owner("invocation-1"), report=report)

    assert (output.status, output.owner, output.duplicate) == (RunStatus.RUNNING, "exec-1", False)
    assert output.run_id == run_id_for(source.bucket, source.key, source.version_id)
    assert report.calls == [("planned", (output, source))]


def test_the_stored_plan_of_another_execution_is_a_duplicate_for_this_one() -> None:
    # Given exec-1 planned the upload through the once-per-object-version planner
    world = World()
    source = world.upload(vocab_csv(6))
    idempotency = MemoryIdempotency()
    plan_once = idempotency.once(plan_upload, PlanOutput, key=lambda kwargs: kwargs["source"].model_dump())
    report = MemoryReport()

    def plan(execution_id: str) -> PlanOutput:
        request = PlanRequest.model_validate({"event": upload_event(source), "execution_id": execution_id})
        owner = request.owner("invocation")
        return world.plan_request(request, owner=owner, report=report, plan_once=plan_once)

    first = plan("exec-1")
    stored = world.store.snapshot()

    # When exec-2 starts for the same object version and gets exec-1's stored plan back
    second = plan("exec-2")

    # Then it is a duplicate for exec-2, reported as one, and nothing was planned again
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.model_dump(exclude={"duplicate"}) == first.model_dump(exclude={"duplicate"})
    assert idempotency.ran == 1 and world.store.snapshot() == stored
    assert [args[0].duplicate for name, args in report.calls if name == "planned"] == [False, True]


def test_a_resume_request_resumes_for_this_invocation_and_reports_it() -> None:
    world = World()
    planned = world.plan(world.upload(vocab_csv(6)))
    world.finalize(planned.run_id, failure={"Error": "States.Timeout", "Cause": "timed out"})
    request = PlanRequest.model_validate({"resume_run_id": planned.run_id})  # the execution input alone
    report = MemoryReport()

    output = world.plan_request(request, owner=request.owner("invocation-7"), report=report)

    assert (output.duplicate, output.status, output.owner) == (False, RunStatus.RUNNING, "resume-invocation-7")
    assert report.calls == [("resumed", output)]


@pytest.mark.parametrize(
    ("stored_key", "key_in_event"),
    [
        pytest.param("uploads/zh/HSK1/my list.csv", "uploads/zh/HSK1/my+list.csv", id="space-url-encoded"),
        pytest.param("uploads/zh/HSK1/c++.csv", "uploads/zh/HSK1/c%2B%2B.csv", id="plus-url-encoded"),
        pytest.param("uploads/zh/HSK1/c++.csv", "uploads/zh/HSK1/c++.csv", id="plus-delivered-as-is"),
        pytest.param("uploads/zh/HSK1/my list.csv", "uploads/zh/HSK1/my list.csv", id="space-delivered-as-is"),
    ],
)
def test_the_uploaded_key_is_found_whether_or_not_the_event_url_encoded_it(stored_key: str, key_in_event: str) -> None:
    # Given a file whose key holds a space or a plus, and an event naming it encoded or not
    world = World()
    source = world.upload(vocab_csv(6), key=stored_key)
    event = upload_event(source)
    event["detail"]["object"]["key"] = key_in_event
    request = PlanRequest.model_validate({"event": event, "execution_id": "exec-1"})

    # When Plan reads the upload
    planned = world.plan_request(request, owner="exec-1")

    # Then it planned the stored object, and the run record names its real key
    assert planned.status is RunStatus.RUNNING and planned.batch_count > 0
    record = world.runs.get(planned.run_id)
    assert record is not None and record.input.key == stored_key


def test_an_upload_missing_under_both_readings_of_its_key_is_an_upload_not_found() -> None:
    world = World()
    source = world.upload(vocab_csv(6), key="uploads/zh/HSK1/other.csv")
    event = upload_event(source)
    event["detail"]["object"]["key"] = "uploads/zh/HSK1/c%2B%2B.csv"
    request = PlanRequest.model_validate({"event": event, "execution_id": "exec-1"})

    with pytest.raises(UploadNotFound):
        world.plan_request(request, owner="exec-1")


def test_intake_warnings_are_kept_with_the_vocab_not_its_chunks() -> None:
    # Given an upload under zh with a zero-width space, a repeated word and a Korean word
    world = World()
    data = vocab_csv(3) + "你\u200b好,nǐ hǎo,hello,\n爱,ài,love,v\n안녕,annyeong,hi,\n".encode()

    # When Plan runs
    planned = world.plan(world.upload(data))

    # Then vocab.json carries the warnings, each on its row, with the words cleaned and merged
    keys = RunKeys(planned.run_id)
    vocab = VocabList.model_validate(world.store.get_json(keys.vocab))
    assert vocab.words == ["爱", "八", "爸爸", "你好", "안녕"]
    assert [(w.row, w.problem) for w in vocab.warnings] == [
        (5, "'word': removed invisible characters U+200B ZERO WIDTH SPACE"),
        (6, "'爱' repeats row 2 and was merged into it; its definition 'love' dropped (the first value wins)"),
        (7, "'안녕' has Hangul letters, unusual for zh, written in Han"),  # the key's language
    ]
    # and the chunks GenerateBatch reads do not repeat them
    chunk = VocabList.model_validate(world.store.get_json(keys.chunk(0)))
    assert chunk.warnings == [] and chunk.words == vocab.words

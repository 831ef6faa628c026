"""The embedded AWS's state between local runs (`havachat_local.state`): runs of the real pipeline on moto, each
`LocalPipeline` a fresh moto as each `havachat` process is, sharing one HAVACHAT_HOME; the fake Claude at HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from havachat.llm import InstructorClaude
from havachat.pipeline.contracts import RunStatus
from havachat.settings import Settings
from havachat_local.outputs import RUNS_TABLE, run_records
from havachat_local.runner import LocalPipeline
from havachat_local.state import LocalState, StateInUse
from tests.event_schemas import check_captured_events
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.fake_content import install
from tests.helpers import FIXTURES_DIR, ROOT

HSK1 = FIXTURES_DIR / "vocab" / "zh_hsk1.csv"
SETTINGS = Settings(sdk_max_retries=0)


def _pipeline(fake: FakeClaude, home: Path) -> LocalPipeline:
    llm = InstructorClaude(fake.client(max_retries=0), model=SETTINGS.model, validation_max_retries=0)
    return LocalPipeline(llm, settings=SETTINGS, root=ROOT, state=LocalState(home))


def test_a_partial_run_is_resumed_by_a_later_process_and_changed_content_is_a_new_run(tmp_path: Path) -> None:
    fake = FakeClaude()
    fake.script(status=400, match="Category: cultural")

    # Given a PARTIAL run in one process
    with _pipeline(fake, tmp_path) as first:
        assert first.settings.runs_table == RUNS_TABLE  # the table `havachat runs` reads
        partial = first.run_file(HSK1, language="zh", level="HSK1")
    assert partial.summary is not None and partial.summary.status is RunStatus.PARTIAL
    run_id = partial.summary.run_id
    paid = len(fake.requests)

    # Then what it paid for is on disk: every batch output, and the run record (saved without moto)
    batches = tmp_path / "aws" / "s3" / "havachat-local-databucket" / "scratch" / run_id / "batches"
    assert sorted(p.name for p in batches.iterdir()) == sorted(
        f"{category}-0000.json" for category in partial.summary.counts_by_category
    )
    assert len(list(batches.iterdir())) == 8 and not (batches / "cultural-0000.json").exists()
    assert [(r.run_id, r.status) for r in run_records(LocalState(tmp_path))] == [(run_id, RunStatus.PARTIAL)]

    # When a second process resumes it: exactly the failed batch's call
    with _pipeline(fake, tmp_path) as second:
        resumed = second.resume(run_id)
    assert resumed.summary is not None and resumed.summary.status is RunStatus.SUCCEEDED
    assert len(fake.requests) == paid + 1
    assert "cultural" in resumed.summary.counts_by_category

    # And changed content under the same name is a new run that pays (the same content reuses: test_cli_runs)
    changed = tmp_path / "changed" / HSK1.name
    changed.parent.mkdir()
    changed.write_text(HSK1.read_text(encoding="utf-8") + "再见,zàijiàn,goodbye\n", encoding="utf-8")
    with _pipeline(fake, tmp_path) as third:
        other = third.run_file(changed, language="zh", level="HSK1")
    assert other.summary is not None and other.summary.reused_from is None
    assert len(fake.requests) > paid + 1


@pytest.mark.parametrize(
    "key",
    [
        "uploads/zh/HSK1/list.csv",
        "uploads/ja/N5/.hidden",
        "uploads/es/A1/50%: a?b*c<d>|e\\f.csv",
        "uploads/ja/N5/日本語 リスト.csv",
    ],
)
def test_an_s3_key_round_trips_through_a_file_name_any_os_accepts(tmp_path: Path, key: str) -> None:
    state = LocalState(tmp_path)

    path = state.object_path("bucket", key)

    assert state.object_key("bucket", path) == key
    name = path.relative_to(tmp_path / "aws" / "s3" / "bucket")
    assert not any(part.startswith(".") or set(part) & set('%<>:"\\|?*') - {"%"} for part in name.parts)


def test_one_process_at_a_time_per_home(tmp_path: Path) -> None:
    with _pipeline(FakeClaude(), tmp_path), pytest.raises(StateInUse, match=str(tmp_path)):
        LocalState(tmp_path).start("123456789012", "us-east-1", buckets=[], tables=[])


def test_stage_two_follows_the_templates_rule_and_a_failure_is_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    check_captured_events(monkeypatch)
    fake = install(FakeClaude())
    fake.script(status=400, match="Content: stories")
    with _pipeline(fake, tmp_path) as local, local.capture_events(("LearningContentGenerationFailed",)) as drain:
        local.subscribe_functions()
        done = local.run_file(HSK1, language="zh", level="HSK1")
        (failed,) = local.deliver()
        announced = drain()
        assert local.deliver() == [], "each matched event is delivered once"

    assert done.run_id is not None and failed.function == "ContentFunction" and failed.failed
    assert failed.event["detail-type"] == "LearningItemsGenerated" and failed.event["detail"]["run_id"] == done.run_id
    assert [e["detail"]["run_id"] for e in announced] == [done.run_id]

    # A later process delivering the same run's event again pays only for the failed call
    calls = len(fake.requests)
    with _pipeline(fake, tmp_path) as local:
        (delivered,) = [local.invoke("ContentFunction", json.dumps(failed.event))]
    assert delivered[1] is False, delivered[0]
    assert [b["tool_choice"]["name"] for b in fake.requests[calls:]] == ["StoryBatch"]

"""`events/` written from a local run, so the samples chain and never drift: `python -m havachat_local.sample_events`.

The run is the one the README's `sam local invoke` lines make against `havachat local-aws`: the
sample vocab file in the embedded AWS (`local_aws.upload_sample`), Plan on the bare upload event,
GenerateBatch on each batch of Plan's manifest, Finalize on the run id, offline. Written:

    s3_object_created.json          the upload's `Object Created` event (Plan's input)
    generate_batch.json             the manifest's first batch; batches/<batch id>.json: every batch
    finalize.json                   the run id (Finalize's input after the Map)
    finalize_failure.json           the failure path's input: the upload event and a Map timeout
    learning_items_generated.json   the event Finalize published (Content's input)

Clock and request fields (event ids, times, sequencer) are fixed; the object's version id is moto's,
made the same on every run by seeding its random. `tests/integration/test_sample_events.py` fails
when the committed files differ from what a run writes; `--check` does the same from the shell.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from havachat.pipeline.contracts import GENERATED
from havachat_local.local_aws import SAMPLE_VOCAB, local_pipeline, upload_sample
from havachat_local.runner import ACCOUNT, FINALIZE, GENERATE, PLAN, LambdaContextStub, LocalPipeline, find_root
from havachat_local.runner import s3_object_created_event as object_created

UPLOAD_EVENT_ID = "0b6f2d8e-4d5a-4c1e-9a53-1f6f2b3f9e01"
UPLOADED_AT = "2026-11-20T10:15:30Z"
FINISHED_AT = "2026-11-20T10:16:02Z"
GENERATED_EVENT_ID = "7bf73129-1428-4cd3-a780-95db273d1602"
MAP_TIMEOUT = {"Error": "States.Timeout", "Cause": "The Map state GenerateBatches timed out."}
BATCHES = "batches"


def _invoke(local: LocalPipeline, name: str, event: dict[str, Any]) -> dict[str, Any]:
    context = LambdaContextStub(function_name=name, invoked_function_arn=local.function_arns[name])
    result: dict[str, Any] = local.handlers[name](event, context)
    return result


def upload_event(local: LocalPipeline) -> dict[str, Any]:
    """Put the sample vocab file in the bucket; returns its `Object Created` event, clock and request fields fixed."""
    sample = upload_sample(local)
    event = object_created(sample, (local.root / SAMPLE_VOCAB).stat().st_size)
    event.update(id=UPLOAD_EVENT_ID, time=UPLOADED_AT)
    event["detail"]["object"]["sequencer"] = "0062E99A88DC407460"
    event["detail"]["request-id"] = "N4N7GDK58NMKJ12R"
    return event


def produce(root: Path) -> dict[str, Any]:
    """Every sample event, by its path under `events/`, from a run of the sample upload."""
    with local_pipeline(root) as local:
        upload = upload_event(local)
        plan = _invoke(local, PLAN, upload)
        assert local.deps is not None
        manifest = local.deps.store.get_json(plan["manifest_key"])
        batches = [
            {"run_id": plan["run_id"], "language": plan["language"], "level": plan["level"], "batch": batch}
            for batch in manifest
        ]
        for batch in batches:
            _invoke(local, GENERATE, batch)
        finalize = {"run_id": plan["run_id"]}
        with local.capture_events((GENERATED,)) as drain:
            _invoke(local, FINALIZE, finalize)
            (published,) = drain()
    detail = {**published["detail"], "finished_at": FINISHED_AT.replace("Z", "+00:00")}
    generated = {  # as EventBridge delivers it to a rule's target (moto's copy in SQS has no `account`)
        "version": "0",
        "id": GENERATED_EVENT_ID,
        "detail-type": published["detail-type"],
        "source": published["source"],
        "account": ACCOUNT,
        "time": FINISHED_AT,
        "region": published["region"],
        "resources": published["resources"],
        "detail": detail,
    }
    return {
        "s3_object_created.json": upload,
        "generate_batch.json": batches[0],
        **{f"{BATCHES}/{b['batch']['batch_id']}.json": b for b in batches},
        "finalize.json": finalize,
        "finalize_failure.json": {"event": upload, "failure": MAP_TIMEOUT},
        "learning_items_generated.json": generated,
    }


def rendered(root: Path) -> dict[str, str]:
    """`produce`'s events as their files' text."""
    return {name: json.dumps(event, indent=2, ensure_ascii=False) + "\n" for name, event in produce(root).items()}


def committed(events_dir: Path, names: Iterable[str]) -> dict[str, str]:
    """The text of the files `names` and of every batch file in `events_dir` (the ones that exist)."""
    paths = [*(events_dir / n for n in names), *(events_dir / BATCHES).glob("*.json")]
    return {p.relative_to(events_dir).as_posix(): p.read_text(encoding="utf-8") for p in paths if p.is_file()}


def write(events_dir: Path, files: dict[str, str]) -> None:
    """Write the files; batch files of an earlier plan that this one does not have are removed."""
    (events_dir / BATCHES).mkdir(parents=True, exist_ok=True)
    for stale in (events_dir / BATCHES).glob("*.json"):
        if stale.relative_to(events_dir).as_posix() not in files:
            stale.unlink()
    for name, text in files.items():
        (events_dir / name).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if events/ differs from a run")
    args = parser.parse_args(argv)
    root = find_root()
    files = rendered(root)
    events_dir = root / "events"
    if args.check:
        current = committed(events_dir, files)
        differ = sorted(n for n in files.keys() | current.keys() if files.get(n) != current.get(n))
        for name in differ:
            print(f"events/{name} differs from a run: run `make events`", file=sys.stderr)
        return 1 if differ else 0
    write(events_dir, files)
    print(f"wrote {len(files)} files to {events_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

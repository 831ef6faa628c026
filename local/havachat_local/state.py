"""The embedded AWS's state between local runs, under `HAVACHAT_HOME` (default: the per-user data directory).

    HAVACHAT_HOME/
      aws/s3/<bucket>/<key>         one file per S3 object (its latest version), written as it is put
      aws/dynamodb/<table>.json     each table's items (DynamoDB JSON), written after every invocation that changed it
      runs/<run_id>/                a run's outputs: items.jsonl, run.json, lambda.log, vocab.json, report.html, ...

Every file is written to a temporary file and renamed over the old one, so a process that dies mid-run
leaves whole files: every batch output already paid for is on disk (S3 puts are written through) and
the run record is as it was after the last invocation. A run that was RUNNING when its process ended is
recorded as FAILED (interrupted) on the next start, so `havachat resume` can finish it.

moto has no persistence of its own: `LocalState.start` loads the files into moto's backends (moto==5.2.5,
`S3Backend.put_object` and `DynamoDBBackend.put_item`, `update_item`, `delete_item` are the seams;
`tests/integration/test_local_state.py` guards them) and wraps those methods to write back.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.s3.models import S3Backend, s3_backends

from havachat.settings import Settings

try:  # POSIX: one process at a time per HAVACHAT_HOME
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None  # type: ignore[assignment]

RUNS_DIR = "runs"
_UNSAFE = re.compile(r'[%<>:"\\|?*\x00-\x1f]|^\.')


class StateInUse(RuntimeError):
    """Another havachat process is running on the same HAVACHAT_HOME."""


def home_dir(settings: Settings | None = None) -> Path:
    """`HAVACHAT_HOME`, else the per-user data directory (`platformdirs.user_data_path("havachat")`)."""
    configured = (settings or Settings()).home
    if configured is not None:
        return configured.expanduser()
    import platformdirs

    return platformdirs.user_data_path("havachat", appauthor=False)


def write_atomically(path: Path, data: bytes) -> None:
    """`data` in `path` whole or not at all: a temporary file beside it, then a rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _escape(segment: str) -> str:
    """A key segment as a file name on any OS: `%`, reserved characters and a leading dot as `%XX`."""
    if not segment:
        raise ValueError("an S3 key with an empty segment cannot be stored as a file")
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), segment)


def _unescape(name: str) -> str:
    return re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), name.encode()).decode()


class LocalState:
    """The S3 buckets and DynamoDB tables of one `HAVACHAT_HOME`, loaded into moto and written back."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.aws = home / "aws"
        self._lock = threading.RLock()
        self._buckets: set[str] = set()
        self._tables: set[str] = set()
        self._dirty: set[str] = set()
        self._stack: contextlib.ExitStack | None = None

    def run_dir(self, run_id: str) -> Path:
        return self.home / RUNS_DIR / run_id

    def object_path(self, bucket: str, key: str) -> Path:
        return self.aws / "s3" / _escape(bucket) / Path(*(_escape(part) for part in key.split("/")))

    def object_key(self, bucket: str, path: Path) -> str:
        """The S3 key an object file under `object_path(bucket, ...)` stands for."""
        root = self.aws / "s3" / _escape(bucket)
        return "/".join(_unescape(part) for part in path.relative_to(root).parts)

    def table_path(self, table: str) -> Path:
        return self.aws / "dynamodb" / f"{_escape(table)}.json"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, account: str, region: str, buckets: Iterable[str], tables: Iterable[str]) -> None:
        """Lock the home, load its objects and items into moto (resources created), then write back from here on."""
        stack = contextlib.ExitStack()
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            stack.enter_context(self._exclusive())
            self._buckets, self._tables = set(buckets), set(tables)
            self._load(account, region)
            for method in ("put_item", "update_item", "delete_item"):
                stack.enter_context(mock.patch.object(DynamoDBBackend, method, self._tracked(method)))
            stack.enter_context(mock.patch.object(S3Backend, "put_object", self._written_through()))
        except BaseException:
            stack.close()
            raise
        self._stack = stack

    def stop(self) -> None:
        """Save what changed since the last save and release the home."""
        if self._stack is None:
            return
        try:
            self.save_tables()
        finally:
            self._stack.close()
            self._stack = None

    def in_use(self) -> bool:
        """Whether a havachat process holds this home now."""
        if not self.home.is_dir():
            return False
        try:
            with self._exclusive():
                return False
        except StateInUse:
            return True

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover
            yield
            return
        with (self.home / "lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateInUse(f"another havachat process is using {self.home}; wait for it to finish") from None
            yield

    # -- loading --------------------------------------------------------------------------------

    def _load(self, account: str, region: str) -> None:
        s3 = s3_backends[account]["aws"]
        for bucket in self._buckets:
            root = self.aws / "s3" / _escape(bucket)
            for directory, _, files in os.walk(root):
                for name in files:
                    if name.startswith("."):  # a temporary file a crash left behind
                        continue
                    path = Path(directory, name)
                    s3.put_object(bucket, self.object_key(bucket, path), path.read_bytes(), disable_notification=True)
        dynamodb = dynamodb_backends[account][region]
        for table in self._tables:
            path = self.table_path(table)
            if path.exists():
                for item in json.loads(path.read_bytes()):
                    dynamodb.put_item(table, item)

    # -- writing back ---------------------------------------------------------------------------

    def _written_through(self) -> Any:
        put_object = S3Backend.put_object

        def put(backend: S3Backend, bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
            created = put_object(backend, bucket_name, key_name, value, *args, **kwargs)
            if bucket_name in self._buckets:
                write_atomically(self.object_path(bucket_name, key_name), bytes(value))
            return created

        return put

    def _tracked(self, method: str) -> Any:
        original = getattr(DynamoDBBackend, method)

        def write(backend: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                result = original(backend, table_name, *args, **kwargs)
                self._dirty.add(table_name)
            return result

        return write

    def save_tables(self) -> None:
        """Write every table changed since its last save (cheap when none was)."""
        if not self._dirty:
            return
        with self._lock:
            dirty, self._dirty = self._dirty & self._tables, set()
            snapshots = {}
            for table_name in dirty:
                table = self._backend_table(table_name)
                snapshots[table_name] = [item.to_json()["Attributes"] for item in table.all_items()]
            for table_name, items in snapshots.items():
                write_atomically(self.table_path(table_name), json.dumps(items, ensure_ascii=False).encode())

    def _backend_table(self, table_name: str) -> Any:
        for regions in dynamodb_backends.values():
            for backend in regions.values():
                if table_name in backend.tables:
                    return backend.tables[table_name]
        raise KeyError(table_name)

    # -- reading without moto -------------------------------------------------------------------

    def rows(self, table: str) -> list[dict[str, Any]]:
        """A saved table's items as plain values (numbers as `Decimal`), read from disk."""
        from boto3.dynamodb.types import TypeDeserializer

        path = self.table_path(table)
        if not path.exists():
            return []
        deserializer = TypeDeserializer()
        return [
            {name: deserializer.deserialize(value) for name, value in item.items()}
            for item in json.loads(path.read_bytes())
        ]

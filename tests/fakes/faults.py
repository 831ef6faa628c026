"""Fault injection around the AWS side: flaky boto3 clients, a crashing port, Step Functions' retry waits.

The wrappers forward every call to the real (moto) client and change only what the fault
needs, so what does get through is really stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from havachat.llm import make_llm
from havachat.models import LearningItem
from havachat.settings import Settings
from havachat_local.runner import LocalPipeline
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import ROOT


def record_step_functions_retries(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make moto's Retry waits instant; returns the list the waited intervals (seconds) are appended to.

    Only the wait is skipped: which retrier matches, MaxAttempts, backoff and jitter stay moto's.
    """
    waits: list[float] = []
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=waits.append))
    return waits


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, operation)


class FlakyDynamoClient:
    """A DynamoDB client whose first `unprocessed` BatchWriteItem calls leave half their items unprocessed
    (unwritten) and whose first `throttled` calls raise ProvisionedThroughputExceededException."""

    def __init__(self, client: Any, *, unprocessed: int = 0, throttled: int = 0) -> None:
        self._client = client
        self.unprocessed = unprocessed
        self.throttled = throttled
        self.batch_calls = 0

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]], **kwargs: Any) -> dict[str, Any]:
        self.batch_calls += 1
        if self.throttled > 0:
            self.throttled -= 1
            raise client_error("ProvisionedThroughputExceededException", "BatchWriteItem")
        if self.unprocessed <= 0:
            response: dict[str, Any] = self._client.batch_write_item(RequestItems=RequestItems, **kwargs)
            return response
        self.unprocessed -= 1
        written: dict[str, list[dict[str, Any]]] = {}
        left: dict[str, list[dict[str, Any]]] = {}
        for table, requests in RequestItems.items():
            half = max(1, len(requests) // 2)
            written[table], left[table] = requests[:-half], requests[-half:]
        if any(written.values()):
            self._client.batch_write_item(RequestItems={t: r for t, r in written.items() if r}, **kwargs)
        return {"UnprocessedItems": left}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class FlakyEventsClient:
    """An EventBridge client whose first `rejected` PutEvents calls report every entry failed (not sent)."""

    def __init__(self, client: Any, *, rejected: int) -> None:
        self._client = client
        self.rejected = rejected
        self.calls = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.rejected > 0:
            self.rejected -= 1
            failed = {"ErrorCode": "ThrottlingException", "ErrorMessage": "injected"}
            return {"FailedEntryCount": len(Entries), "Entries": [failed for _ in Entries]}
        response: dict[str, Any] = self._client.put_events(Entries=Entries)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class CrashingItems:
    """The Items port, crashing on its first `crashes` calls before writing anything (Finalize dies after S3)."""

    def __init__(self, items: Any, *, crashes: int = 1) -> None:
        self._items = items
        self.crashes = crashes
        self.calls = 0

    def put_items(self, run_id: str, items: Iterable[LearningItem]) -> int:
        self.calls += 1
        if self.crashes > 0:
            self.crashes -= 1
            raise RuntimeError("injected crash between the S3 write and the DynamoDB write")
        written: int = self._items.put_items(run_id, items)
        return written


SMALL_ZH = (
    "word,pinyin,definition\n爱,ài,to love\n八,bā,eight\n爸爸,bàba,dad\n杯子,bēizi,cup\n北京,Běijīng,Beijing\n"
    "本,běn,measure word for books\n不,bù,no\n菜,cài,dish\n茶,chá,tea\n吃,chī,to eat\n出租车,chūzūchē,taxi\n"
    "打电话,dǎ diànhuà,to phone\n"
).encode()


@contextmanager
def pipeline_on_loopback(
    fake: FakeClaude, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalPipeline]:
    """The local pipeline whose GenerateBatch reaches `fake` over HTTP on 127.0.0.1, through `make_llm(settings)`:
    the SDK's timeout and retries, instructor's re-asks and the state machine's Retry all as configured."""
    with fake.serve() as url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        llm = make_llm(settings, api_key="test-key")
        with LocalPipeline(llm, settings=settings, root=ROOT) as local:
            yield local


def dynamo_items(local: LocalPipeline, run_id: str) -> list[dict[str, Any]]:
    """The run's rows in the items table (all pages)."""
    rows: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": local.settings.items_table,
        "KeyConditionExpression": "run_id = :r",
        "ExpressionAttributeValues": {":r": {"S": run_id}},
    }
    while True:
        page = local.dynamodb.query(**kwargs)
        rows.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return rows
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

"""The AWS adapters a handler needs, built once per container from the settings (or injected by tests)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from havachat.aws.events import EventBridgePublisher
from havachat.aws.idempotency import IdempotencyStore
from havachat.aws.items import DynamoItems
from havachat.aws.runs import DynamoRuns
from havachat.aws.storage import S3Store
from havachat.settings import Settings, get_settings

if TYPE_CHECKING:  # Stage 2 models load only in the Content function (cold start of Plan and Finalize)
    from havachat.aws.content import DynamoContent


@dataclass
class AwsDeps:
    settings: Settings
    store: S3Store
    runs: DynamoRuns
    items: DynamoItems
    events: EventBridgePublisher
    idempotency: IdempotencyStore | None = None
    content: DynamoContent | None = None  # Stage 2 rows, when HAVACHAT_CONTENT_TABLE is set


# botocore's standard mode retries throttling, 5xx and transport errors with jittered back-off
# (5 attempts per call); the adapters add their own retries for what a successful call reports
# as not done (DynamoDB UnprocessedItems, EventBridge FailedEntryCount).
AWS_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def aws_deps(settings: Settings, session: Any = None) -> AwsDeps:
    """Adapters over the bucket, tables and bus named in `settings` (HAVACHAT_* set by the template)."""
    missing = [name for name in ("data_bucket", "runs_table", "items_table") if not getattr(settings, name)]
    if missing:
        raise RuntimeError(f"missing configuration: {', '.join('HAVACHAT_' + m.upper() for m in missing)}")
    assert settings.data_bucket and settings.runs_table and settings.items_table  # narrowed above, for mypy
    session = session or boto3.session.Session(region_name=settings.aws_region)
    dynamodb = session.resource("dynamodb", config=AWS_CLIENT_CONFIG)
    idempotency = (
        IdempotencyStore(settings.idempotency_table, session.client("dynamodb", config=AWS_CLIENT_CONFIG))
        if settings.idempotency_table
        else None
    )
    content = None
    if settings.content_table:
        from havachat.aws.content import DynamoContent

        content = DynamoContent(settings.content_table, dynamodb)
    return AwsDeps(
        settings=settings,
        store=S3Store(settings.data_bucket, session.client("s3", config=AWS_CLIENT_CONFIG)),
        runs=DynamoRuns(settings.runs_table, dynamodb),
        items=DynamoItems(settings.items_table, dynamodb),
        events=EventBridgePublisher(settings.event_bus_name, session.client("events", config=AWS_CLIENT_CONFIG)),
        idempotency=idempotency,
        content=content,
    )


@lru_cache(maxsize=1)
def container_deps() -> AwsDeps:
    """The adapters of this Lambda container, built on first use and kept while it is warm."""
    return aws_deps(get_settings())

"""The adapters a handler needs: built once per container from the settings, or passed in (tests, the local runner).

Every handler takes them as a parameter, `lambda_handler(event, context, deps: AwsDeps | None = None)`,
and uses `container_deps()` when none is given (on Lambda).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

import boto3
from botocore.config import Config
from pydantic import BaseModel

from havachat.aws.events import EventBridgePublisher
from havachat.aws.items import DynamoItems
from havachat.aws.runs import DynamoRuns
from havachat.aws.storage import S3Store
from havachat.errors import NeedsLlm
from havachat.settings import Provider, Settings, get_settings, resolve_provider

if TYPE_CHECKING:  # the LLM stack, Stage 2 and idempotency load only in the functions that use them (cold start)
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from havachat.aws.content import DynamoContent
    from havachat.aws.idempotency import Idempotency
    from havachat.generation import BatchGenerator
    from havachat.llm import InstructorClaude
    from havachat.llm_port import StructuredContentLlm, StructuredLlm

T = TypeVar("T")
P = ParamSpec("P")
OutputT = TypeVar("OutputT", bound=BaseModel)


class Lazy(Generic[T]):
    """`build()`'s value, built on the first call and kept (once, however many threads ask at the same time)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def __call__(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value


@dataclass
class AwsDeps:
    settings: Settings
    store: S3Store
    runs: DynamoRuns
    items: DynamoItems
    events: EventBridgePublisher
    batch_generator: Callable[[], BatchGenerator]  # GenerateBatch's, built on first use
    content_llm: Callable[[], StructuredContentLlm]  # Content's, built on first use
    idempotency: Idempotency | None = None
    content: DynamoContent | None = None  # Stage 2 rows, when HAVACHAT_CONTENT_TABLE is set

    def once(
        self,
        step: Callable[P, OutputT],
        output: type[OutputT],
        *,
        name: str,
        key: str,
        key_fields: str = "",
        context: LambdaContext,
    ) -> Callable[P, OutputT]:
        """`step` made idempotent over IdempotencyTable (`Idempotency.once`); as it is without the table."""
        if self.idempotency is None:
            return step
        return self.idempotency.once(step, output, name=name, key=key, key_fields=key_fields, context=context)


# botocore's standard mode retries throttling, 5xx and transport errors with jittered back-off
# (5 attempts per call); the adapters add their own retries for what a successful call reports
# as not done (DynamoDB UnprocessedItems, EventBridge FailedEntryCount).
AWS_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def aws_deps(
    settings: Settings,
    session: Any = None,
    *,
    batch_generator: Callable[[], BatchGenerator] | None = None,
    content_llm: Callable[[], StructuredContentLlm] | None = None,
) -> AwsDeps:
    """Adapters over the bucket, tables and bus named in `settings` (HAVACHAT_* set by the template).

    GenerateBatch's generator and Content's LLM are built from the settings on first use (Claude with
    the key from Secrets Manager, or Bedrock, or the offline generator), unless given.
    """
    missing = [name for name in ("data_bucket", "runs_table", "items_table") if not getattr(settings, name)]
    if missing:
        raise RuntimeError(f"missing configuration: {', '.join('HAVACHAT_' + m.upper() for m in missing)}")
    assert settings.data_bucket and settings.runs_table and settings.items_table  # narrowed above, for mypy
    session = session or boto3.session.Session(region_name=settings.aws_region)
    dynamodb = session.resource("dynamodb", config=AWS_CLIENT_CONFIG)
    idempotency = None
    if settings.idempotency_table:  # Plan and Finalize (the template gives the table to them alone)
        from havachat.aws.idempotency import Idempotency

        idempotency = Idempotency(settings.idempotency_table, session.client("dynamodb", config=AWS_CLIENT_CONFIG))
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
        batch_generator=batch_generator or Lazy(lambda: configured_generator(settings)),
        content_llm=content_llm or Lazy(lambda: configured_content_llm(settings)),
        idempotency=idempotency,
        content=content,
    )


@lru_cache(maxsize=1)
def container_deps() -> AwsDeps:
    """The adapters of this Lambda container, built on first use and kept while it is warm."""
    return aws_deps(get_settings())


def claude(settings: Settings) -> InstructorClaude:
    """Claude: the API key from Secrets Manager (else `ANTHROPIC_API_KEY`), or Bedrock."""
    from havachat.aws.secrets import anthropic_api_key
    from havachat.llm import make_llm

    return make_llm(settings, api_key=anthropic_api_key(settings))


def llm_generator(llm: StructuredLlm, settings: Settings) -> BatchGenerator:
    """Batches generated by `llm`, with the settings' answer and split limits."""
    from havachat.generation import LlmBatchGenerator

    return LlmBatchGenerator(
        llm=llm,
        max_tokens=settings.max_tokens,
        max_split_depth=settings.max_split_depth,
        coverage_followup=settings.coverage_followup,
    )


def configured_generator(settings: Settings) -> BatchGenerator:
    """The offline generator with HAVACHAT_PROVIDER=offline (or auto without a key), else Claude."""
    settings = resolve_provider(settings)
    if settings.provider is Provider.OFFLINE:
        from havachat.offline import OfflineGenerator

        return OfflineGenerator()
    return llm_generator(claude(settings), settings)


def configured_content_llm(settings: Settings) -> InstructorClaude:
    """Claude for Stage 2; with the offline provider, `NeedsLlm`: conversations and stories need an LLM."""
    if resolve_provider(settings).provider is Provider.OFFLINE:
        raise NeedsLlm.for_content()
    return claude(settings)

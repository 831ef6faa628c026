"""Powertools idempotency over IdempotencyTable (partition key `id`, TTL attribute `expiration`).

`Idempotency.once(step, ...)` is the step decorated with Powertools' `idempotent_function`: it runs
once per key (its key argument, or the fields a JMESPath picks from it), and a repeat within the
record's lifetime gets the stored result back, validated into the step's pydantic output model
(`PydanticSerializer`), without running the step again. A step that raises leaves no record (it
may be retried). Records live 26 hours, longer than the EventBridge retry window (24 hours), so a
late redelivery still finds them. A record left INPROGRESS by an invocation that timed out expires
with that invocation's deadline (the Lambda context is registered), after which a retry proceeds;
until then a concurrent call raises `IdempotencyAlreadyInProgressError`.

Each step's persistence layer, config and decorated function are built on its first call and kept
for the container. The local runner calls one handler from several threads at once; Powertools
keeps per-call state in two places the calls of a decorated function share: the key prefix on the
persistence layer (the same for every call of one step, hence a layer per step) and the registered
Lambda context on the config, which `_ContextPerThread` keeps per thread
(`tests/integration/test_reliability_duplicates.py` runs two invocations at once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

RECORD_TTL_SECONDS = 26 * 3600  # EventBridge retries an event for up to 24 h; 2 h margin

P = ParamSpec("P")
OutputT = TypeVar("OutputT", bound=BaseModel)


class _ContextPerThread(IdempotencyConfig):
    """An `IdempotencyConfig` whose registered Lambda context is the calling thread's own."""

    def __init__(self, **options: Any) -> None:
        self._thread = threading.local()
        super().__init__(**options)

    @property
    def lambda_context(self) -> LambdaContext | None:
        context: LambdaContext | None = getattr(self._thread, "context", None)
        return context

    @lambda_context.setter
    def lambda_context(self, context: LambdaContext | None) -> None:
        self._thread.context = context


class Idempotency:
    """The idempotent steps of one container, over one table."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self._client = client
        self._steps: dict[str, tuple[Callable[..., Any], IdempotencyConfig]] = {}
        self._lock = threading.Lock()

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
        """`step` run once per value of its `key` argument (`key_fields`: a JMESPath picking the fields
        that count), its records named `<name>#<md5 of the key>` (one step per name); `context` is the
        invocation calling it. `output` is the step's return model: the steps' annotations are strings
        (`from __future__ import annotations`), which `PydanticSerializer` cannot read the model from."""
        with self._lock:
            if name not in self._steps:
                config: IdempotencyConfig = _ContextPerThread(
                    event_key_jmespath=key_fields,
                    expires_after_seconds=RECORD_TTL_SECONDS,
                    raise_on_no_idempotency_key=True,
                )
                decorated = idempotent_function(
                    step,
                    data_keyword_argument=key,
                    persistence_store=DynamoDBPersistenceLayer(table_name=self.table_name, boto3_client=self._client),
                    config=config,
                    key_prefix=name,
                    output_serializer=PydanticSerializer(model=output),
                )
                self._steps[name] = (decorated, config)
            decorated, config = self._steps[name]
        config.register_lambda_context(context)
        once: Callable[P, OutputT] = decorated
        return once

"""Where moto (5.2.5) repeats work on every call, do it once: same checks, same answers, less CPU.

A local run of the 20,000-word list drives 729 batches through moto's Step Functions, Lambda, S3
and DynamoDB in one process. Profiled (`py-spy --gil`), four repetitions stood out, each fixed here
without loosening what moto checks:

- its interpreter parses a JSONPath every time it evaluates it: a parsed path is immutable, so it is
  parsed once (`lru_cache`);
- it validates a definition by parsing it whole (antlr, ~1 s): once per definition per process;
- it builds a new boto3 Lambda client for every Task invoke (a tenth of the run): one client per
  region and `boto3` stand-in is built once (the IAM tier swaps that stand-in for one holding the
  state machine role's credentials, so its clients are its own);
- DynamoDB's `Item` re-measures every attribute already set each time it sets one (quadratic in the
  attributes, a fifth of Finalize): the item is measured once, against the same 405,000-byte limit.

`tests/integration/test_moto_seam.py` guards the seams these patch.
"""

from __future__ import annotations

import functools
from typing import Any
from unittest import mock

from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict, bytesize
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.asl.utils import json_path as sfn_json_path
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

ITEM_SIZE_LIMIT = 405_000  # moto's own limit (`LimitedSizeDict`): DynamoDB's 400 KB, measured


_validated_definition = functools.lru_cache(maxsize=8)(StepFunctionsParserBackend._validate_definition)


def _lambda_clients() -> Any:
    """`boto_client_for`, one client per (region, service, boto3 stand-in) for as long as the patch is on."""
    clients: dict[tuple[str, str, int], Any] = {}

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, id(boto_client.boto3))
        if key not in clients:  # a race builds two clients, and one is kept: harmless
            clients[key] = boto_client.boto_client_for(region, service, state_credentials)
        return clients[key]

    return boto_client_for


def _measured_once(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    """`Item.__init__`, measuring the whole item once instead of once per attribute."""
    self.hash_key = hash_key
    self.range_key = range_key
    values = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in values.items()) > ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict()
    dict.update(self.attrs, values)  # already measured: later writes go through LimitedSizeDict's check


def speedups() -> list[Any]:
    """The patches (not started) that take moto's repeated work away: start them with moto, stop them after."""
    return [
        mock.patch.object(sfn_json_path, "parse", functools.lru_cache(maxsize=1024)(sfn_json_path.parse)),
        mock.patch.object(StepFunctionsParserBackend, "_validate_definition", staticmethod(_validated_definition)),
        mock.patch.object(lambda_eval_utils, "boto_client_for", _lambda_clients()),
        mock.patch.object(Item, "__init__", _measured_once),
    ]

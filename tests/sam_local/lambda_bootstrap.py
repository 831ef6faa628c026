"""A stand-in for the Lambda Python runtime in a `sam local invoke` container (run by tests/sam_local).

    python3.12 lambda_bootstrap.py OUT EVENT...

Imports the handler named by `AWS_LAMBDA_FUNCTION_HANDLER` from the path the caller set up (the
function's `sam build` directory, then the layers' `python/`), calls it once per event file with a
context stub (a warm container), and writes JSON lines to OUT: first what ran (the Python version and
where the handler and `havachat` were imported from), then each result, or the error as the runtime
reports it (`errorType`, `errorMessage`). Only the standard library: nothing else is on the path.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
import uuid
from typing import Any


class Context:
    """The fields of a Lambda context, from the variables the runtime sets."""

    def __init__(self) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ['AWS_REGION']}:{os.environ['AWS_ACCOUNT_ID']}:function:{self.function_name}"
        )
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self._deadline = time.monotonic() + int(os.environ["AWS_LAMBDA_FUNCTION_TIMEOUT"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(out: str, events: list[str]) -> None:
    module_name, _, handler_name = os.environ["AWS_LAMBDA_FUNCTION_HANDLER"].rpartition(".")
    module = importlib.import_module(module_name)
    handler = getattr(module, handler_name)
    with open(out, "w", encoding="utf-8") as results:
        ran: dict[str, Any] = {"python": platform.python_version(), "handler": module.__file__}
        ran["havachat"] = getattr(sys.modules.get("havachat"), "__file__", None)
        results.write(json.dumps(ran) + "\n")
        for path in events:
            with open(path, encoding="utf-8") as file:
                event = json.load(file)
            try:
                result = handler(event, Context())
            except Exception as exc:
                result = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            results.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])

"""Back-off for the adapters that resend what botocore's own retries did not get through."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator


def backoff_attempts(attempts: int, backoff_s: float, max_backoff_s: float = math.inf) -> Iterator[int]:
    """The attempt numbers 0 .. `attempts` - 1, sleeping before every attempt but the first.

    Exponential back-off with full jitter: before attempt n, a random time up to
    `backoff_s * 2**n`, never more than `max_backoff_s`.
    """
    for attempt in range(attempts):
        if attempt:
            time.sleep(random.uniform(0, min(max_backoff_s, backoff_s * 2**attempt)))
        yield attempt

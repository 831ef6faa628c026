"""`map_concurrently`: results in the order of the inputs, whatever order the calls finish in; errors raised."""

from __future__ import annotations

import threading
import time

import pytest

from havachat.concurrency import map_concurrently


def test_results_come_back_in_the_order_of_the_items_not_of_completion() -> None:
    def slow_first(n: int) -> int:
        time.sleep(0.05 * (4 - n))  # the first item finishes last
        return n * 10

    assert map_concurrently(slow_first, [0, 1, 2, 3], max_workers=4) == [0, 10, 20, 30]


def test_calls_run_concurrently_up_to_max_workers() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def track(_: int) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    map_concurrently(track, range(6), max_workers=3)

    assert peak == 3


def test_the_error_of_the_first_failing_item_is_raised() -> None:
    def fail_odd(n: int) -> int:
        if n % 2:
            time.sleep(0.05 if n == 1 else 0)  # item 3 fails first in time, item 1 first in order
            raise ValueError(f"item {n}")
        return n

    with pytest.raises(ValueError, match="item 1"):
        map_concurrently(fail_odd, [0, 1, 2, 3], max_workers=4)

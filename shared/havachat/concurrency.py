"""Running independent calls on a thread pool (LLM calls and storage reads wait on the network)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_concurrently(fn: Callable[[T], R], items: Iterable[T], max_workers: int) -> list[R]:
    """`fn` of every item, at most `max_workers` at a time, the results in the order of `items`.

    If calls raise, the error of the first such item (in the order of `items`) is raised once the
    calls already started have finished; calls not yet started are cancelled.
    """
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        return list(pool.map(fn, items))

"""`backoff_attempts`: how many tries, and the jittered sleep before each retry (no AWS call involved)."""

from __future__ import annotations

import pytest

from havachat.aws import retry
from havachat.aws.retry import backoff_attempts


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The bounds `random.uniform` is asked for (each sleep takes its upper bound)."""
    bounds: list[float] = []

    def uniform(low: float, high: float) -> float:
        assert low == 0
        bounds.append(high)
        return high

    monkeypatch.setattr(retry.random, "uniform", uniform)
    monkeypatch.setattr(retry.time, "sleep", lambda _seconds: None)
    return bounds


def test_every_attempt_but_the_first_waits_up_to_twice_as_long_as_the_one_before(sleeps: list[float]) -> None:
    assert list(backoff_attempts(5, 0.2)) == [0, 1, 2, 3, 4]
    assert sleeps == pytest.approx([0.4, 0.8, 1.6, 3.2])


def test_the_wait_is_capped(sleeps: list[float]) -> None:
    list(backoff_attempts(8, 0.05, max_backoff_s=1.0))

    assert sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])


def test_stopping_early_does_not_sleep_again(sleeps: list[float]) -> None:
    for attempt in backoff_attempts(5, 0.2):
        if attempt == 1:
            break

    assert sleeps == pytest.approx([0.4])

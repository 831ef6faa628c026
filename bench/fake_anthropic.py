"""A fake Anthropic Messages API for benchmarks: answers, latency, prompt caching and rate limits on simulated time.

`LatencyClaude` is `tests.fakes.fake_claude.FakeClaude` (same answers, same token heuristic, same
`serve()` on loopback) plus three things the benchmarks measure:

- **Latency.** A 200 answer is held for `latency.call_seconds(output_tokens)` = time to first token +
  output tokens / throughput (`havachat.planning.LatencyModel`; defaults 1.0 s and 60 tokens/s, the slow end
  of what Sonnet 4.x streams: 0.6-1.0 s to first token, 60-80 tokens/s).
- **Prompt caching on a clock.** Every `cache_control` breakpoint (tools -> system -> messages, see
  `FakeClaude`) caches the exact prefix up to it, only if it has at least the model's minimum
  (`havachat.prompts.min_cacheable_tokens`, or `min_cache_tokens`). A request that finds no live entry writes
  it (`cache_creation_input_tokens`); the entry becomes readable when that answer *starts* (after the time to
  first token), so requests arriving together (a parallel Map's first wave) each write it. Later requests
  read the longest live prefix (`cache_read_input_tokens`) and refresh its 5-minute TTL.
- **Rate limits.** Token buckets for requests per minute and output tokens per minute (capacity = the
  per-minute limit, refilled continuously, as Anthropic's limiter). Like the API, a request reserves its
  `max_tokens` of output-token budget on arrival and gets back what it did not use when it finishes.
  Over a limit: 429 `rate_limit_error` with `retry-after` (whole simulated seconds, as the API sends) and
  `retry-after-ms` (the same wait in real milliseconds, which the SDK prefers and honours).

Simulated time (`SimClock`): model time (answers being held, and the waits a 429 asks for) runs at
`scale` real seconds per simulated second; everything else (client, SDK, instructor, moto, handlers)
runs and counts at real speed. A simulated duration = real duration with its model-bound stretches
stretched back by 1/scale. Client work that overlaps a call in flight is stretched too, so local
overhead is over- rather than under-counted.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from havachat.planning import LatencyModel
from tests.fakes.fake_claude import FakeClaude, _error_body

RealClock = Callable[[], float]


class SimClock:
    """Simulated seconds since creation: real time, with registered model-bound spans stretched by 1 / scale."""

    def __init__(self, scale: float, real_clock: RealClock = time.perf_counter) -> None:
        if scale <= 0:
            raise ValueError("scale must be > 0")
        self.scale = scale
        self._real = real_clock
        self._origin = real_clock()
        self._lock = threading.Lock()
        self._spans: list[list[float]] = []  # merged, sorted [start, end) in real seconds since origin
        self._cursor = 0  # spans before it ended before the last query
        self._closed = 0.0  # their total length

    def now(self) -> float:
        with self._lock:
            t = self._real() - self._origin
            return t + self._model_seconds(t) * (1 / self.scale - 1)

    def hold(self, simulated_seconds: float) -> float:
        """Mark the next `simulated_seconds` (of model time) as starting now; returns the real seconds to wait."""
        real_seconds = max(0.0, simulated_seconds) * self.scale
        with self._lock:
            t = self._real() - self._origin
            if self._spans and t < self._spans[-1][1]:
                self._spans[-1][1] = max(self._spans[-1][1], t + real_seconds)
            else:
                self._spans.append([t, t + real_seconds])
        return real_seconds

    def _model_seconds(self, t: float) -> float:
        """Real seconds in [0, t] covered by model-bound spans (t never decreases between calls)."""
        while self._cursor < len(self._spans) and self._spans[self._cursor][1] <= t:
            start, end = self._spans[self._cursor]
            self._closed += end - start
            self._cursor += 1
        return self._closed + sum(max(0.0, min(end, t) - start) for start, end in self._spans[self._cursor :])


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at capacity / 60 per simulated second; the level may go below zero."""

    capacity: float
    level: float = field(init=False)
    updated: float = 0.0

    def __post_init__(self) -> None:
        self.level = self.capacity

    @property
    def rate(self) -> float:
        return self.capacity / 60.0

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = max(self.updated, now)

    def wait_for(self, amount: float) -> float:
        """Simulated seconds until `amount` (at most the capacity) is available; 0 if it is now."""
        short = min(amount, self.capacity) - self.level
        return max(0.0, short / self.rate)


@dataclass(frozen=True)
class RateLimits:
    """Per-minute limits; None = unlimited."""

    requests_per_minute: int | None = None
    output_tokens_per_minute: int | None = None


@dataclass
class CallRecord:
    """One answered request: when it arrived (simulated s), how long the model took, what it used."""

    arrived: float
    seconds: float
    usage: dict[str, int]


class LatencyClaude(FakeClaude):
    """`FakeClaude` with latency, time-aware caching and rate limits on a `SimClock` (see the module doc)."""

    def __init__(
        self,
        *,
        latency: LatencyModel | None = None,
        scale: float = 0.01,
        limits: RateLimits | None = None,
        min_cache_tokens: int | None = None,
        cache_ttl_seconds: float = 300.0,
        clock: SimClock | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(min_cache_tokens=min_cache_tokens)
        self.latency = latency or LatencyModel()
        self.clock = clock or SimClock(scale)
        self.limits = limits or RateLimits()
        self.cache_ttl_seconds = cache_ttl_seconds
        self.calls: list[CallRecord] = []
        self.throttled = 0
        self._sleep = sleep
        self._cache: dict[str, tuple[float, float]] = {}  # key -> (visible from, expires at), simulated s
        self._in_flight: dict[int, float] = {}  # answered calls still being held -> their end, simulated s
        self._rpm = TokenBucket(self.limits.requests_per_minute) if self.limits.requests_per_minute else None
        self._otpm = TokenBucket(self.limits.output_tokens_per_minute) if self.limits.output_tokens_per_minute else None

    # -- the API --------------------------------------------------------------------------------

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        reserve = int(body.get("max_tokens") or 0)
        wait = self._admit(reserve)
        if wait is not None:
            return self._throttle(body, wait)
        arrived = self.clock.now()
        response = super().handle(request)
        if response.status_code != 200:
            self._settle(reserve, 0)
            return response
        usage = response.json()["usage"]
        seconds = self.latency.call_seconds(usage["output_tokens"])
        with self._lock:
            self.calls.append(CallRecord(arrived, seconds, usage))
            call = len(self.calls)
            self._in_flight[call] = self.clock.now() + seconds
        self._sleep(self.clock.hold(seconds))
        with self._lock:
            del self._in_flight[call]
        self._settle(reserve, usage["output_tokens"])
        return response

    def _admit(self, reserve: int) -> float | None:
        """Take one request and `reserve` output tokens from the buckets (None); else the simulated seconds to wait.

        The output-token wait is cut short by the next call in flight to end, since it gives back what
        it reserved and did not use.
        """
        with self._lock:
            now = self.clock.now()
            rpm_wait = otpm_wait = 0.0
            if self._rpm is not None:
                self._rpm.refill(now)
                rpm_wait = self._rpm.wait_for(1)
            if self._otpm is not None:
                self._otpm.refill(now)
                otpm_wait = self._otpm.wait_for(reserve)
            if rpm_wait == otpm_wait == 0:
                if self._rpm is not None:
                    self._rpm.level -= 1
                if self._otpm is not None:
                    self._otpm.level -= reserve
                return None
            if otpm_wait and self._in_flight:
                otpm_wait = min(otpm_wait, max(0.0, min(self._in_flight.values()) - now))
            return max(rpm_wait, otpm_wait)

    def _settle(self, reserved: int, used: int) -> None:
        """Give back the output tokens a finished request reserved but did not use."""
        if self._otpm is None:
            return
        with self._lock:
            self._otpm.refill(self.clock.now())
            self._otpm.level = min(self._otpm.capacity, self._otpm.level + reserved - used)

    def _throttle(self, body: dict[str, Any], wait: float) -> httpx2.Response:
        seconds = max(1, math.ceil(wait))  # whole seconds, at least one
        real = self.clock.hold(seconds)  # the client sits out the wait: model-bound time
        with self._lock:
            self.requests.append(body)
            self.throttled += 1
        headers = {"retry-after": str(seconds), "retry-after-ms": f"{real * 1000:.3f}", "request-id": "req_throttled"}
        return httpx2.Response(429, headers=headers, json=_error_body(429, "fake: rate limit exceeded"))

    def _cache_lookup(self, key: str, written: list[str]) -> bool:
        now = self.clock.now()
        visible, expires = self._cache.get(key, (math.inf, -math.inf))
        if visible <= now < expires:
            self._cache[key] = (visible, now + self.cache_ttl_seconds)
            return True
        if now >= expires:  # never written, or expired: this request starts a new entry
            visible = math.inf
        first_token = now + self.latency.first_token_seconds
        self._cache[key] = (min(visible, first_token), max(expires, first_token + self.cache_ttl_seconds))
        return False

    # -- results --------------------------------------------------------------------------------

    @property
    def slowest_call_seconds(self) -> float:
        return max((c.seconds for c in self.calls), default=0.0)


def anthropic_client(base_url: str, *, max_retries: int = 2, timeout: float = 600.0) -> anthropic.Anthropic:
    """A real Anthropic client for a `LatencyClaude.serve()` URL, over real HTTP on loopback."""
    return anthropic.Anthropic(base_url=base_url, api_key="bench-key", max_retries=max_retries, timeout=timeout)

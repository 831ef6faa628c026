"""Token ledger: what every LLM call used and cost, summed per category and per run."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

PRICE_TABLE_VERSION = "2026-11-01"


class ModelPrice(BaseModel):
    """USD per million tokens. Cache writes are the 5-minute ephemeral rate."""

    input: float
    output: float
    cache_write: float
    cache_read: float


# Anthropic list prices (same on Bedrock on-demand). Keys are model families; ids are matched by substring.
PRICES: dict[str, ModelPrice] = {
    "claude-opus-4-5": ModelPrice(input=5.0, output=25.0, cache_write=6.25, cache_read=0.50),
    "claude-opus-4": ModelPrice(input=15.0, output=75.0, cache_write=18.75, cache_read=1.50),
    "claude-sonnet-4": ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30),
    "claude-3-7-sonnet": ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30),
    "claude-haiku-4-5": ModelPrice(input=1.0, output=5.0, cache_write=1.25, cache_read=0.10),
    "claude-3-5-haiku": ModelPrice(input=0.80, output=4.0, cache_write=1.0, cache_read=0.08),
}


BATCH_PRICE_FACTOR = 0.5
"""The Message Batches API bills every kind of token (input, output, cache writes and reads) at half the list price."""


def price_for(model: str) -> ModelPrice:
    """The price of a model id such as `claude-sonnet-4-5-20250929` or `us.anthropic.claude-sonnet-4-5-...`.

    Unknown models are priced as the most expensive family so cost is never under-reported.
    """
    for family in sorted(PRICES, key=len, reverse=True):
        if family in model:
            return PRICES[family]
    return PRICES["claude-opus-4"]


class CallUsage(BaseModel):
    """One HTTP attempt's usage as the API reported it (instructor re-asks are separate attempts)."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    latency_ms: float = 0.0
    batch: bool = False
    """Answered through the Message Batches API: priced at `BATCH_PRICE_FACTOR` of the list price."""

    @property
    def cost_usd(self) -> float:
        price = price_for(self.model)
        per_million = (BATCH_PRICE_FACTOR if self.batch else 1.0) / 1_000_000
        return (
            self.input_tokens * price.input
            + self.output_tokens * price.output
            + self.cache_write_tokens * price.cache_write
            + self.cache_read_tokens * price.cache_read
        ) * per_million


class UsageTotals(BaseModel):
    """A sum of calls: tokens by kind, attempts, latency and cost."""

    calls: int = 0
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    price_table_version: str = PRICE_TABLE_VERSION

    @classmethod
    def of_call(cls, attempts: Iterable[CallUsage]) -> UsageTotals:
        """The totals of one logical call made of one or more attempts."""
        attempt_list = list(attempts)
        return cls(
            calls=1 if attempt_list else 0,
            attempts=len(attempt_list),
            input_tokens=sum(a.input_tokens for a in attempt_list),
            output_tokens=sum(a.output_tokens for a in attempt_list),
            cache_write_tokens=sum(a.cache_write_tokens for a in attempt_list),
            cache_read_tokens=sum(a.cache_read_tokens for a in attempt_list),
            latency_ms=sum(a.latency_ms for a in attempt_list),
            cost_usd=sum(a.cost_usd for a in attempt_list),
        )

    def __add__(self, other: UsageTotals) -> UsageTotals:
        return UsageTotals(
            calls=self.calls + other.calls,
            attempts=self.attempts + other.attempts,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            latency_ms=self.latency_ms + other.latency_ms,
            cost_usd=self.cost_usd + other.cost_usd,
        )

    @classmethod
    def total(cls, parts: Iterable[UsageTotals]) -> UsageTotals:
        result = cls()
        for part in parts:
            result = result + part
        return result


class Ledger(BaseModel):
    """Usage per category (keyed by category value) with the run total derived from it."""

    by_category: dict[str, UsageTotals] = Field(default_factory=dict)

    def record(self, category: str, usage: UsageTotals) -> None:
        self.by_category[category] = self.by_category.get(category, UsageTotals()) + usage

    @property
    def run_total(self) -> UsageTotals:
        return UsageTotals.total(self.by_category.values())

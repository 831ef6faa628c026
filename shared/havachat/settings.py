"""The one place configuration is read: a typed settings object built from `HAVACHAT_*` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Provider(StrEnum):
    AUTO = "auto"  # anthropic when an API key (or its secret) is configured, else offline
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"
    OFFLINE = "offline"  # no LLM: dictionary-derived pronunciation and writing-system items (havachat.offline)


class LlmMode(StrEnum):
    SYNC = "sync"  # one Messages API call per batch, in the Map
    BATCH = "batch"  # the run's batches through the Message Batches API at half price, then the Map for the rest


class Settings(BaseSettings):
    """Defaults are what a deployed stack and the local run use unless told otherwise."""

    model_config = SettingsConfigDict(env_prefix="HAVACHAT_", extra="ignore")

    # LLM
    provider: Provider = Provider.AUTO
    model: str = "claude-sonnet-4-6"
    max_tokens: int = Field(default=8192, ge=256)
    request_timeout_seconds: float = Field(default=120.0, gt=0)
    sdk_max_retries: int = Field(default=2, ge=0, description="HTTP-level retries of 429/5xx/transport errors")
    validation_max_retries: int = Field(default=2, ge=0, description="instructor re-asks on validation errors")
    max_split_depth: int = Field(default=3, ge=0, description="how often a truncated chunk may be halved")
    coverage_followup: bool = Field(
        default=False, description="ask once more about the words no item cited (pronunciation, writing, literacy)"
    )
    anthropic_secret_name: str | None = Field(default=None, description="Secrets Manager name of the API key")
    max_run_cost_usd: float = Field(
        default=0.0, ge=0, description="a run's cost cap in USD (Plan refuses an estimate over it); 0 = none"
    )
    aws_region: str | None = None
    llm_mode: LlmMode = Field(
        default=LlmMode.SYNC, description="batch: the Message Batches API (half price, results within 24 h)"
    )
    batch_poll_seconds: int = Field(default=60, ge=0, description="the state machine's wait between two polls")
    batch_max_wait_seconds: int = Field(
        default=25 * 3600, ge=0, description="a batch still processing after this long is canceled (API: 24 h at most)"
    )

    # Planning
    chunk_token_budget: int = Field(default=12_000, ge=500, description="estimated input+output tokens per batch")
    context_window_tokens: int = 200_000

    # Vocab intake limits
    max_file_bytes: int = 5 * 1024 * 1024
    max_rows: int = 50_000
    max_field_chars: int = 500

    # AWS resources (set by the template)
    data_bucket: str | None = None
    runs_table: str | None = None
    items_table: str | None = None
    idempotency_table: str | None = None
    event_bus_name: str = "default"
    map_concurrency: int = Field(default=10, ge=1)

    # The organisation's Anthropic rate limits for the model (0 = unknown): Plan keeps as many calls in flight
    # as they allow, at most map_concurrency (havachat.rate_limits)
    rate_limit_requests_per_minute: int = Field(default=0, ge=0)
    rate_limit_input_tokens_per_minute: int = Field(default=0, ge=0)
    rate_limit_output_tokens_per_minute: int = Field(default=0, ge=0)

    # Stage 2 content (conversations and stories from a run's items)
    content_table: str | None = None
    content_conversations: int = Field(default=3, ge=0, le=100, description="conversations per run")
    content_stories: int = Field(default=3, ge=0, le=100, description="stories per run")

    # Local runs (the `havachat` CLI): where the embedded AWS keeps its state between runs
    home: Path | None = Field(default=None, description="HAVACHAT_HOME; default: the per-user data directory")


def resolve_provider(settings: Settings, environ: Mapping[str, str] | None = None) -> Settings:
    """`auto` made concrete: anthropic when ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN or the key's secret is
    configured, else offline. Bedrock is only ever chosen explicitly."""
    if settings.provider is not Provider.AUTO:
        return settings
    env = os.environ if environ is None else environ
    has_key = bool(env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN") or settings.anthropic_secret_name)
    return settings.model_copy(update={"provider": Provider.ANTHROPIC if has_key else Provider.OFFLINE})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

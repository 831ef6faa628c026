"""The one place configuration is read: a typed settings object built from `HAVACHAT_*` variables."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Provider(StrEnum):
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"


class Settings(BaseSettings):
    """Defaults are what a deployed stack and the local run use unless told otherwise."""

    model_config = SettingsConfigDict(env_prefix="HAVACHAT_", extra="ignore")

    # LLM
    provider: Provider = Provider.ANTHROPIC
    model: str = "claude-sonnet-4-6"
    max_tokens: int = Field(default=8192, ge=256)
    request_timeout_seconds: float = Field(default=120.0, gt=0)
    sdk_max_retries: int = Field(default=2, ge=0, description="HTTP-level retries of 429/5xx/transport errors")
    validation_max_retries: int = Field(default=2, ge=0, description="instructor re-asks on validation errors")
    max_split_depth: int = Field(default=3, ge=0, description="how often a truncated chunk may be halved")
    anthropic_secret_name: str | None = Field(default=None, description="Secrets Manager name of the API key")
    aws_region: str | None = None

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""The Anthropic API key from Secrets Manager (cached by Powertools across warm invocations)."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities import parameters

from havachat.errors import MissingCredentials
from havachat.settings import Settings

SECRET_MAX_AGE_S = 300
PLACEHOLDER = "REPLACE_ME"  # what template.yaml deploys until the real key is put


def anthropic_api_key(settings: Settings) -> str | None:
    """The key when a secret is configured (plain string or JSON with ANTHROPIC_API_KEY / api_key), else None.

    None lets the SDK read `ANTHROPIC_API_KEY` from the environment (local runs).
    """
    if not settings.anthropic_secret_name:
        return None
    value = parameters.get_secret(settings.anthropic_secret_name, max_age=SECRET_MAX_AGE_S)
    text = value.strip()
    if text.startswith("{"):
        data = json.loads(text)
        text = str(data.get("ANTHROPIC_API_KEY") or data.get("api_key") or "")
    if text == PLACEHOLDER:
        raise MissingCredentials(
            f"Secret {settings.anthropic_secret_name} still holds the placeholder: put the Anthropic API key "
            "with `aws secretsmanager put-secret-value`."
        )
    return text or None

"""Platform credentials and ingest knobs, read only from the environment (never from the CLI).

Kept apart from :mod:`streams.settings` because only the ingest processes need
them. A value on the command line would show in ``ps`` and in Kubernetes pod
specs, so tokens and secrets come from ``TOWNSQUARE_*`` variables, or from a
mounted file named by ``TOWNSQUARE_<NAME>_FILE``. They are ``SecretStr``:
they never appear in logs or reprs.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_SECRET_FIELDS = ("mastodon_token", "x_bearer_token", "webhook_secret", "webhook_secret_previous")


class IngestCredentials(BaseSettings):
    """Tokens and secrets of the live ingest sources."""

    model_config = SettingsConfigDict(env_prefix="TOWNSQUARE_", frozen=True, extra="ignore")

    mastodon_token: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_MASTODON_TOKEN: access token for the Mastodon instance (needed "
        "for list timelines and instances that require auth for streaming; or a file via "
        "TOWNSQUARE_MASTODON_TOKEN_FILE).",
    )
    x_bearer_token: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_X_BEARER_TOKEN: X API v2 app bearer token (or a file via "
        "TOWNSQUARE_X_BEARER_TOKEN_FILE).",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_WEBHOOK_SECRET: shared HMAC-SHA256 key for signed webhook pushes "
        "(or a file via TOWNSQUARE_WEBHOOK_SECRET_FILE). The receiver refuses to start without it.",
    )
    webhook_secret_previous: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_WEBHOOK_SECRET_PREVIOUS: the webhook secret before a rotation, "
        "still accepted alongside the current one until every sender signs with the new one "
        "(or a file via TOWNSQUARE_WEBHOOK_SECRET_PREVIOUS_FILE). Unset it when rotation is done.",
    )
    reddit_user_agent: str = Field(
        default="townsquare-ingest/1.0 (public listening; set TOWNSQUARE_REDDIT_USER_AGENT)",
        description="TOWNSQUARE_REDDIT_USER_AGENT: User-Agent sent to Reddit; Reddit asks for a "
        "unique, descriptive one with a contact.",
    )

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        for name in _SECRET_FIELDS:
            path = os.environ.get(f"TOWNSQUARE_{name.upper()}_FILE")
            if path and not data.get(name):
                data[name] = Path(path).read_text(encoding="utf-8").strip()
        return data


def secret_from_env(variable: str) -> str | None:
    """A secret from a named variable (``--token-env VAR``), else None; empty counts as unset."""
    value = os.environ.get(variable, "").strip()
    return value or None

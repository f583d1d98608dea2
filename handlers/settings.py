"""Settings the HTTP layer reads."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    port: int = 8080
    # Webhooks and API calls are small; a large body is a mistake or an attack.
    max_request_bytes: int = 1_048_576

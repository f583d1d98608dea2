"""Settings the HTTP layer reads, and what ``create_app`` needs from the composition root."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dispatch.settings import DispatchSettings, SigningKeys
from store.settings import StoreSettings


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    port: int = 8080
    # Webhooks and API calls are small; a large body is a mistake or an attack.
    max_request_bytes: int = 1_048_576
    # Comma-separated; the first signs operator API tokens, all are accepted
    # (rotation as for UNSUBSCRIBE_SECRET).
    jwt_secret: SigningKeys = Field(default_factory=list)
    # Resend's webhook signing secret (Svix, "whsec_…"); unset: /email/events answers 503.
    resend_webhook_secret: SecretStr | None = None
    # HTTP basic auth expected on /email/inbound (SendGrid Inbound Parse and
    # JSON posters put it in the webhook URL); unset: /email/inbound answers 503.
    inbound_email_username: str | None = None
    inbound_email_password: SecretStr | None = None


class AppSettings(Protocol):
    """What the app reads: the composition root's settings satisfy this."""

    @property
    def store(self) -> StoreSettings: ...

    @property
    def dispatch(self) -> DispatchSettings: ...

    @property
    def web(self) -> WebSettings: ...

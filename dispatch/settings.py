"""Settings the dispatch layer reads: links, signing keys, prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Twilio's published US price per segment; set SMS_PRICE_PER_SEGMENT to your own.
DEFAULT_SMS_PRICES = {"US": Decimal("0.0083"), "CA": Decimal("0.0083"), "default": Decimal("0.05")}


class DispatchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # The server's public URL: unsubscribe links in messages point here.
    public_base_url: str = "http://localhost:8080"
    # Comma-separated; the first signs new tokens, all are accepted, so a key
    # can be rotated by putting the new one first and dropping the old later.
    unsubscribe_secret: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # CAN-SPAM wants an unsubscribe link to work for 30 days; guests keep
    # old invitations for much longer, so links live for over a year.
    unsubscribe_token_max_age_days: int = 400
    # JSON object: ISO country → price per SMS segment, plus "default".
    sms_price_per_segment: dict[str, Decimal] = Field(
        default_factory=lambda: dict(DEFAULT_SMS_PRICES)
    )
    # Optional DKIM signing of outgoing email (PEM private key text).
    dkim_private_key: SecretStr | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None

    @field_validator("unsubscribe_secret", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

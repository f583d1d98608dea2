"""Settings the dispatch layer reads: links, signing keys, prices."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dispatch.pacing import Pace

# Twilio's published US price per segment; set SMS_PRICE_PER_SEGMENT to your own.
DEFAULT_SMS_PRICES = {"US": Decimal("0.0083"), "CA": Decimal("0.0083"), "default": Decimal("0.05")}
# Carriers' throughput per sending number, messages per second.
SENDER_MPS = {"long_code": 1.0, "toll_free": 3.0, "short_code": 100.0}


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# Signing keys from one comma-separated variable: the first signs, all verify.
SigningKeys = Annotated[list[SecretStr], NoDecode, BeforeValidator(_comma_separated)]


class DispatchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # The server's public URL: unsubscribe links in messages point here.
    public_base_url: str = "http://localhost:8080"
    # Comma-separated; the first signs new tokens, all are accepted, so a key
    # can be rotated by putting the new one first and dropping the old later.
    unsubscribe_secret: SigningKeys = Field(default_factory=list)
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

    # --- sending -----------------------------------------------------------
    # Prefix of every Redis key of the broker, limits and breakers; two installs
    # (or test runs) sharing one Redis keep apart by it.
    broker_namespace: str = "guestcomms"
    # Deliveries per broker message: 10,000 recipients are at most 200 messages.
    batch_size: int = Field(default=100, ge=50, le=200)
    # How long a claimed delivery stays ours; after that the reconciler asks
    # the provider what happened and settles it.
    lease_seconds: int = Field(default=120, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    # How long a provider call may take before it counts as unanswered.
    provider_timeout_seconds: float = Field(default=15, gt=0)
    # No send starts this close to its lease's end (at least the provider
    # timeout), so every call is over before the lease ends; and the
    # reconciler waits this long again after the end, for a provider that
    # answered late, before it asks what happened.
    lease_margin_seconds: int = Field(default=30, ge=1)
    # Pending deliveries untouched this long may have lost their broker
    # message (a worker died holding it); the tick enqueues them again.
    stale_pending_seconds: int = Field(default=120, ge=1)
    # Provider calls in flight at once within one batch.
    send_concurrency: int = Field(default=10, ge=1, le=100)

    # --- privacy ---------------------------------------------------------------
    # Guests' reply texts and providers' error texts are purged this many days
    # after the wedding they belong to (counts and statuses stay).
    retention_days_after_wedding: int = Field(default=180, ge=1)

    # The tiers' messages per hour and per day. Off only for load tests and
    # benchmarks against fakes; recipients per campaign are checked regardless.
    enforce_hourly_and_daily_limits: bool = True

    # --- SMS (Twilio; console when unset) --------------------------------------
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_from_number: str | None = None
    twilio_api_url: str | None = None
    sms_sender_type: Literal["long_code", "toll_free", "short_code"] = "long_code"
    # Overrides the sender type's rate when set (messages per second).
    sms_messages_per_second: float | None = Field(default=None, gt=0)
    # Texts are paced this many milliseconds a second under that rate: the HTTP
    # request and the network move arrivals a little, and the carrier counts
    # what arrives (dispatch.pacing).
    sms_pacing_guard_ms: int = Field(default=40, ge=0, le=200)

    # --- email ---------------------------------------------------------------
    email_provider: Literal["console", "smtp", "resend"] = "console"
    # The platform's verified sending address; the organisation's name stays
    # the display name. Unset: the organisation's own sender address.
    email_from: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    resend_api_key: SecretStr | None = None
    resend_api_url: str = "https://api.resend.com"

    # Console providers write what guests would get here.
    outbox_dir: Path = Path("var/outbox")

    # --- circuit breaker per provider -----------------------------------------
    breaker_failure_rate: float = Field(default=0.5, gt=0, le=1)
    breaker_min_calls: int = Field(default=10, ge=1)
    breaker_window_seconds: int = Field(default=60, ge=1)
    breaker_open_seconds: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _margin_covers_timeout(self) -> DispatchSettings:
        if self.lease_margin_seconds < self.provider_timeout_seconds:
            raise ValueError(
                "LEASE_MARGIN_SECONDS must be at least PROVIDER_TIMEOUT_SECONDS, or a slow "
                "provider call could still be running when its delivery is reconciled"
            )
        return self

    @property
    def sms_rate(self) -> float:
        return self.sms_messages_per_second or SENDER_MPS[self.sms_sender_type]

    @property
    def sms_pace(self) -> Pace:
        return Pace(self.sms_rate, self.sms_pacing_guard_ms / 1000)

    @property
    def twilio_configured(self) -> bool:
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_messaging_service_sid or self.twilio_from_number)
        )

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

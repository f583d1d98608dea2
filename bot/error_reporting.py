"""Error reporting to Sentry: on when SENTRY_DSN is set, for the web app, workers and
scheduler, with guests' personal data scrubbed (bot/sentry_scrub.py)."""

from __future__ import annotations

import sentry_sdk
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sentry_sdk.integrations.aiohttp import AioHttpIntegration
from sentry_sdk.integrations.dramatiq import DramatiqIntegration

from bot.sentry_scrub import before_breadcrumb, before_send


class ErrorReportingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    sentry_dsn: SecretStr | None = None
    sentry_environment: str = "production"


def start_error_reporting(settings: ErrorReportingSettings, component: str) -> bool:
    """True when reporting was started; without a DSN nothing is sent anywhere."""
    if settings.sentry_dsn is None or not settings.sentry_dsn.get_secret_value():
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment,
        # What send_default_pii=False meant, said the way sentry-sdk 2.75+ asks:
        # no user details, no request bodies, no local variables of frames.
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False},
        before_send=before_send,  # type: ignore[arg-type]
        before_breadcrumb=before_breadcrumb,
        integrations=[AioHttpIntegration(), DramatiqIntegration()],
        # Errors only: performance tracing is the /metrics endpoint's job.
        traces_sample_rate=0.0,
    )
    sentry_sdk.set_tag("component", component)
    return True

"""The web app under test: settings with known secrets, and a client factory type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.settings import Settings
from dispatch.settings import DispatchSettings
from handlers.settings import WebSettings
from tests.data_keys import store_settings

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]

PUBLIC_BASE_URL = "https://guestcomms.example.com"
TWILIO_AUTH_TOKEN = "twilio-test-auth-token"
UNSUBSCRIBE_SECRET = "test-unsubscribe-secret"
JWT_SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"
# Svix secrets are "whsec_" + base64 of the key bytes.
RESEND_WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
INBOUND_EMAIL_USERNAME = "inbound"
INBOUND_EMAIL_PASSWORD = "inbound-test-password"


def app_settings(database_url: str, redis_url: str | None = None, **dispatch: Any) -> Settings:
    """Settings of a production-like install, every webhook configured."""
    values: dict[str, Any] = {
        "public_base_url": PUBLIC_BASE_URL,
        "unsubscribe_secret": UNSUBSCRIBE_SECRET,
        "twilio_account_sid": "AC" + "0" * 32,
        "twilio_auth_token": TWILIO_AUTH_TOKEN,
        "twilio_from_number": "+12015550000",
    }
    values.update(dispatch)
    return Settings(
        store=store_settings(database_url, redis_url),
        dispatch=DispatchSettings(**values),
        web=WebSettings(
            jwt_secret=JWT_SECRET,
            resend_webhook_secret=RESEND_WEBHOOK_SECRET,
            inbound_email_username=INBOUND_EMAIL_USERNAME,
            inbound_email_password=INBOUND_EMAIL_PASSWORD,
        ),
    )

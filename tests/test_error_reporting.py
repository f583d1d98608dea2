"""Error reports to Sentry: only with SENTRY_DSN, and without guests' personal data —
checked on a realistic event and through sentry-sdk's own transport to a local fake."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from pydantic import SecretStr

from bot.error_reporting import ErrorReportingSettings, start_error_reporting
from bot.sentry_scrub import REMOVED, before_send
from handlers.redaction import redact
from tests.fakes.sentry import SentryFake
from tests.fakes.server import BackgroundServer

PHONE = "+14155550123"
EMAIL = "jane.doe@example.com"

# As sentry-sdk's aiohttp integration builds it for a failed Twilio webhook.
EVENT: dict[str, Any] = {
    "level": "error",
    "exception": {
        "values": [
            {
                "type": "ValueError",
                "value": f"no guest with phone {PHONE} or email {EMAIL}",
                "stacktrace": {
                    "frames": [
                        {
                            "function": "classify",
                            "vars": {"body": "please stop texting me", "sender": PHONE},
                        }
                    ]
                },
            }
        ]
    },
    "request": {
        "url": "https://guestcomms.example.com/u/WzEsMiwiZSIsM10.Zx1.abcdefghijk",
        "method": "POST",
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "c2lnbmF0dXJl",
            "Cookie": "session=1",
        },
        "data": {"From": PHONE, "Body": "please stop texting me"},
        "cookies": {"session": "1"},
    },
    "breadcrumbs": {
        "values": [
            {"category": "log", "message": f"sending to {EMAIL} and (415) 555-0199"},
            {"category": "httplib", "data": {"url": "https://api.twilio.com", "text": "Hi Jane"}},
        ]
    },
    "user": {"email": EMAIL, "ip_address": "203.0.113.9"},
    "extra": {"guest": {"phone": "415.555.0123", "sms_text": "Hi Jane, the shuttle"}},
}


def test_before_send_removes_personal_data_and_keeps_the_shape() -> None:
    scrubbed = before_send(copy.deepcopy(EVENT), {})
    flat = repr(scrubbed)
    for secret in (PHONE, EMAIL, "555-0199", "555.0123", "stop texting", "Hi Jane", "203.0.113"):
        assert secret not in flat
    exception = scrubbed["exception"]["values"][0]
    assert exception["value"] == "no guest with phone [phone] or email [email]"
    assert "vars" not in exception["stacktrace"]["frames"][0]
    assert exception["stacktrace"]["frames"][0]["function"] == "classify"
    request = scrubbed["request"]
    assert request["data"] == REMOVED
    assert request["headers"] == {"Content-Type": "application/x-www-form-urlencoded"}
    assert request["url"] == "https://guestcomms.example.com/u/[token]"
    assert "user" not in scrubbed
    assert scrubbed["breadcrumbs"]["values"][0]["message"] == "sending to [email] and [phone]"


def test_redaction_leaves_dates_codes_and_ids_alone() -> None:
    text = "Twilio 21610 on 2026-12-01 10:00 for delivery 123456: +44 20 7946 0958, bob@x.org"
    assert redact(text) == "Twilio 21610 on 2026-12-01 10:00 for delivery 123456: [phone], [email]"


@pytest.fixture
def sentry() -> Iterator[tuple[SentryFake, str]]:
    fake = SentryFake()
    with BackgroundServer(fake.app()) as server:
        yield fake, server.url
    sentry_sdk.init()  # back to no client: later tests report nothing


def test_nothing_starts_without_a_dsn() -> None:
    assert start_error_reporting(ErrorReportingSettings.model_construct(), "web") is False
    assert not sentry_sdk.get_client().is_active()


async def test_a_reported_error_reaches_sentry_scrubbed(sentry: tuple[SentryFake, str]) -> None:
    fake, url = sentry
    settings = ErrorReportingSettings(sentry_dsn=SecretStr(fake.dsn(url)))
    assert start_error_reporting(settings, "worker") is True
    try:
        raise RuntimeError(f"Twilio refused {PHONE} for {EMAIL}")
    except RuntimeError as error:
        sentry_sdk.capture_exception(error)
    await asyncio.to_thread(sentry_sdk.flush, 5)
    events = fake.events()
    assert len(events) == 1
    event = events[0]
    assert event["exception"]["values"][0]["value"] == "Twilio refused [phone] for [email]"
    assert event["tags"]["component"] == "worker"
    raw = b"".join(fake.raw)
    assert PHONE.encode() not in raw
    assert EMAIL.encode() not in raw

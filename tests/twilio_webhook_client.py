"""Posting to the Twilio webhooks as Twilio does: a form signed with the real validator."""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from tests.web_harness import PUBLIC_BASE_URL, TWILIO_AUTH_TOKEN

ORGANISATION_NUMBER = "+12015550000"
_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def twilio_signature(url: str, params: dict[str, str], token: str = TWILIO_AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


async def post_signed(
    client: TestClient[Any, Any],
    path: str,
    params: dict[str, str],
    *,
    token: str = TWILIO_AUTH_TOKEN,
    signed_url: str | None = None,
) -> ClientResponse:
    signature = twilio_signature(signed_url or PUBLIC_BASE_URL + path, params, token)
    return await client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def text_from(sender: str, body: str, **extra: str) -> dict[str, str]:
    """The fields Twilio posts for an incoming text."""
    return {
        "MessageSid": new_sid(),
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": ORGANISATION_NUMBER,
        "Body": body,
        "NumMedia": "0",
        **extra,
    }

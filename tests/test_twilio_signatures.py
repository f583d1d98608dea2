"""Twilio webhooks answer 403 and change nothing unless Twilio signed exactly this request."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from handlers.app import create_app
from handlers.keys import SERVICES
from store.models import AuditEntry, Event, InboundMessage, Suppression
from tests.twilio_webhook_client import post_signed, text_from, twilio_signature
from tests.web_harness import PUBLIC_BASE_URL, TWILIO_AUTH_TOKEN, ClientFactory, app_settings

ROUTES = ["/twilio/sms", "/twilio/status"]


@pytest.fixture
async def client(aiohttp_client: ClientFactory, sqlite_database_url: str) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(app_settings(sqlite_database_url)))


async def rows_written(client: TestClient[Any, Any]) -> int:
    database = client.app[SERVICES].database
    async with database.reading() as session:
        total = 0
        for model in (InboundMessage, Suppression, AuditEntry, Event):
            total += int(await session.scalar(select(func.count()).select_from(model)) or 0)
        return total


def stop() -> dict[str, str]:
    return text_from("+12012000001", "STOP", MessageStatus="failed", ErrorCode="21610")


async def assert_forbidden(client: TestClient[Any, Any], response: Any) -> None:
    assert response.status == 403
    assert (await response.json())["error"] == "forbidden"
    assert await rows_written(client) == 0


@pytest.mark.parametrize("path", ROUTES)
async def test_a_correctly_signed_request_is_accepted(
    client: TestClient[Any, Any], path: str
) -> None:
    response = await post_signed(client, path, stop())
    assert response.status in (200, 204)


@pytest.mark.parametrize("path", ROUTES)
async def test_unsigned(client: TestClient[Any, Any], path: str) -> None:
    await assert_forbidden(client, await client.post(path, data=stop()))


@pytest.mark.parametrize("path", ROUTES)
async def test_signed_with_another_auth_token(client: TestClient[Any, Any], path: str) -> None:
    await assert_forbidden(client, await post_signed(client, path, stop(), token="not-ours"))


@pytest.mark.parametrize("path", ROUTES)
async def test_body_changed_after_signing(client: TestClient[Any, Any], path: str) -> None:
    params = stop()
    signature = twilio_signature(PUBLIC_BASE_URL + path, params)
    params["From"] = "+12012000002"
    response = await client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    await assert_forbidden(client, response)


@pytest.mark.parametrize("path", ROUTES)
async def test_signed_for_another_url(client: TestClient[Any, Any], path: str) -> None:
    other = "https://attacker.example.net" + path
    await assert_forbidden(client, await post_signed(client, path, stop(), signed_url=other))


@pytest.mark.parametrize("path", ROUTES)
async def test_forwarded_headers_do_not_choose_the_url(
    client: TestClient[Any, Any], path: str
) -> None:
    """Signed for the host the caller claims to be behind: still not our URL."""
    params = stop()
    signature = twilio_signature("https://attacker.example.net" + path, params)
    response = await client.post(
        path,
        data=params,
        headers={
            "X-Twilio-Signature": signature,
            "X-Forwarded-Host": "attacker.example.net",
            "X-Forwarded-Proto": "https",
            "Host": "attacker.example.net",
        },
    )
    await assert_forbidden(client, response)


@pytest.mark.parametrize("path", ROUTES)
async def test_a_query_string_is_part_of_what_is_signed(
    client: TestClient[Any, Any], path: str
) -> None:
    params = stop()
    signature = twilio_signature(PUBLIC_BASE_URL + path, params)
    response = await client.post(
        path + "?retry=1", data=params, headers={"X-Twilio-Signature": signature}
    )
    await assert_forbidden(client, response)
    signed = twilio_signature(PUBLIC_BASE_URL + path + "?retry=1", params)
    response = await client.post(
        path + "?retry=1", data=params, headers={"X-Twilio-Signature": signed}
    )
    assert response.status in (200, 204)


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("signature", ["", "garbage", "A" * 28, "=" * 5, "é"])
async def test_malformed_signatures(
    client: TestClient[Any, Any], path: str, signature: str
) -> None:
    response = await client.post(path, data=stop(), headers={"X-Twilio-Signature": signature})
    await assert_forbidden(client, response)


@pytest.mark.parametrize("path", ROUTES)
async def test_a_json_body_is_not_a_twilio_form(client: TestClient[Any, Any], path: str) -> None:
    params = stop()
    signature = twilio_signature(PUBLIC_BASE_URL + path, params)
    response = await client.post(path, json=params, headers={"X-Twilio-Signature": signature})
    await assert_forbidden(client, response)


async def test_sha256_signatures_are_checked_too(client: TestClient[Any, Any]) -> None:
    params = stop()
    validator = RequestValidator(TWILIO_AUTH_TOKEN)
    url = PUBLIC_BASE_URL + "/twilio/sms"
    good = validator.compute_signature(url, params, "HMAC_SHA256")
    settings = {"X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_SHA256"}
    response = await client.post(
        "/twilio/sms", data=params, headers={"X-Twilio-Signature": good, **settings}
    )
    assert response.status == 200
    bad = RequestValidator("not-ours").compute_signature(url, stop(), "HMAC_SHA256")
    response = await client.post(
        "/twilio/sms", data=stop(), headers={"X-Twilio-Signature": bad, **settings}
    )
    assert response.status == 403


@pytest.mark.parametrize("path", ROUTES)
async def test_without_an_auth_token_the_webhooks_say_what_is_missing(
    aiohttp_client: ClientFactory, sqlite_database_url: str, path: str
) -> None:
    settings = app_settings(sqlite_database_url, twilio_auth_token=None)
    client = await aiohttp_client(create_app(settings))
    response = await post_signed(client, path, stop())
    assert response.status == 503
    assert "TWILIO_AUTH_TOKEN" in (await response.json())["message"]


@pytest.mark.parametrize("path", ROUTES)
async def test_a_multipart_form_with_a_file_is_not_a_twilio_form(
    client: TestClient[Any, Any], path: str
) -> None:
    """Twilio posts url-encoded text; a file part (which aiohttp reads as a file, not
    text) is forged, whatever its signature header says."""
    form = aiohttp.FormData()
    for name, value in stop().items():
        form.add_field(name, value)
    form.add_field("Body", b"STOP", filename="stop.txt", content_type="text/plain")
    response = await client.post(
        path, data=form, headers={"X-Twilio-Signature": "c2lnbmVkIGJ5IG5vYm9keQ=="}
    )
    await assert_forbidden(client, response)

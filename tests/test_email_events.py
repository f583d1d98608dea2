"""POST /email/events: Resend's events, signed by svix's own signer, through the real app."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from svix.webhooks import Webhook

from handlers.app import create_app
from handlers.settings import WebSettings
from store.database import Database
from store.enums import Channel, DeliveryStatus, SuppressionReason
from store.models import AuditEntry, Delivery, Event, InboundMessage, Suppression
from tests.dispatch_harness import accepted_by_provider
from tests.web_harness import RESEND_WEBHOOK_SECRET, ClientFactory, app_settings

SENDER = "Evergreen Weddings <hello@evergreen.example.com>"  # make_guests' organisation
OTHER_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="


def database_url(database: Database) -> str:
    return database.url.render_as_string(hide_password=False)


@pytest.fixture
async def sent(database: Database) -> dict[str, str]:
    """Three campaign emails Resend accepted: Resend's email id → address."""
    return await accepted_by_provider(database, Channel.EMAIL, "resend", lambda: str(uuid.uuid4()))


@pytest.fixture
async def client(aiohttp_client: ClientFactory, database: Database) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(app_settings(database_url(database))))


def event(kind: str, email_id: str, address: str, **data: Any) -> dict[str, Any]:
    """An event as Resend documents it: type, created_at, and the email in data."""
    return {
        "type": kind,
        "created_at": datetime.now(UTC).isoformat(),
        "data": {
            "email_id": email_id,
            "created_at": datetime.now(UTC).isoformat(),
            "from": SENDER,
            "to": [address],
            "subject": "You're invited",
            **data,
        },
    }


def bounced(email_id: str, address: str, kind: str = "Permanent") -> dict[str, Any]:
    sub_type = "General" if kind == "Permanent" else "MailboxFull"
    bounce = {"type": kind, "subType": sub_type, "message": "550 5.1.1 mailbox unavailable"}
    return event("email.bounced", email_id, address, bounce=bounce)


def signed_headers(
    body: str,
    *,
    msg_id: str | None = None,
    secret: str = RESEND_WEBHOOK_SECRET,
    at: datetime | None = None,
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, at, body),
        "Content-Type": "application/json",
    }


async def post_event(
    client: TestClient[Any, Any], payload: dict[str, Any], **signing: Any
) -> ClientResponse:
    body = json.dumps(payload)
    return await client.post("/email/events", data=body, headers=signed_headers(body, **signing))


async def delivery(database: Database, email_id: str) -> Delivery:
    async with database.reading() as session:
        found = await session.scalar(
            select(Delivery).where(Delivery.provider_message_id == email_id)
        )
        assert found is not None
        return found


async def suppressions(database: Database) -> list[Suppression]:
    async with database.reading() as session:
        return list(await session.scalars(select(Suppression).order_by(Suppression.id)))


async def row_counts(database: Database) -> dict[str, int]:
    async with database.reading() as session:
        return {
            model.__name__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (InboundMessage, Suppression, AuditEntry, Event)
        }


async def opt_outs_counted(client: TestClient[Any, Any], reason: str) -> float:
    text = await (await client.get("/metrics")).text()
    line = f'guestcomms_opt_outs_total{{channel="email",reason="{reason}"}}'
    values = [float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)]
    return values[0] if values else 0.0


async def test_delivered_and_opened_move_sent_to_delivered(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    (first, first_address), (second, second_address), _ = sent.items()
    assert (await post_event(client, event("email.delivered", first, first_address))).status == 200
    assert (await post_event(client, event("email.opened", second, second_address))).status == 200
    for email_id in (first, second):
        found = await delivery(database, email_id)
        assert found.status == DeliveryStatus.DELIVERED
        assert found.delivered_at is not None
    assert await suppressions(database) == []


async def test_a_hard_bounce_suppresses_the_address(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    email_id, address = next(iter(sent.items()))
    response = await post_event(client, bounced(email_id, address))
    assert response.status == 200
    found = await delivery(database, email_id)
    assert found.status == DeliveryStatus.UNDELIVERED
    assert found.error_code == "bounce_permanent"
    assert found.error_message is not None
    assert "General" in found.error_message
    [entry] = await suppressions(database)
    assert (entry.channel, entry.address, entry.reason, entry.source) == (
        Channel.EMAIL,
        address,
        SuppressionReason.BOUNCE,
        "resend_event",
    )
    async with database.reading() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions.count("suppression.added") == 1
    assert await opt_outs_counted(client, "bounce") == 1


@pytest.mark.parametrize("kind", ["Transient", "Undetermined"])
async def test_a_soft_bounce_is_recorded_but_does_not_suppress(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str], kind: str
) -> None:
    email_id, address = next(iter(sent.items()))
    assert (await post_event(client, bounced(email_id, address, kind))).status == 200
    found = await delivery(database, email_id)
    assert found.status == DeliveryStatus.UNDELIVERED
    assert found.error_code == f"bounce_{kind.lower()}"
    assert await suppressions(database) == []


async def test_a_complaint_suppresses_the_address(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    email_id, address = next(iter(sent.items()))
    assert (await post_event(client, event("email.complained", email_id, address))).status == 200
    [entry] = await suppressions(database)
    assert (entry.address, entry.reason, entry.source) == (
        address,
        SuppressionReason.COMPLAINT,
        "resend_event",
    )
    # It was delivered, or there would be nothing to complain about.
    assert (await delivery(database, email_id)).status == DeliveryStatus.DELIVERED
    assert await opt_outs_counted(client, "complaint") == 1


async def test_delivered_after_a_bounce_changes_nothing(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    email_id, address = next(iter(sent.items()))
    await post_event(client, bounced(email_id, address))
    assert (await post_event(client, event("email.delivered", email_id, address))).status == 200
    assert (await post_event(client, event("email.opened", email_id, address))).status == 200
    found = await delivery(database, email_id)
    assert (found.status, found.delivered_at) == (DeliveryStatus.UNDELIVERED, None)
    assert len(await suppressions(database)) == 1


async def test_a_bounce_after_delivered_still_counts(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    email_id, address = next(iter(sent.items()))
    await post_event(client, event("email.delivered", email_id, address))
    await post_event(client, bounced(email_id, address))
    assert (await delivery(database, email_id)).status == DeliveryStatus.UNDELIVERED
    assert [entry.reason for entry in await suppressions(database)] == [SuppressionReason.BOUNCE]


async def test_a_repeated_event_has_one_effect(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    email_id, address = next(iter(sent.items()))
    body = json.dumps(bounced(email_id, address))
    headers = signed_headers(body, msg_id="msg_repeated")
    for _ in range(3):
        response = await client.post("/email/events", data=body, headers=headers)
        assert response.status == 200
    before = await row_counts(database)
    again = await client.post("/email/events", data=body, headers=headers)
    assert again.status == 200
    assert await row_counts(database) == before
    assert len(await suppressions(database)) == 1
    assert await opt_outs_counted(client, "bounce") == 1


async def test_one_valid_signature_among_several_passes(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    email_id, address = next(iter(sent.items()))
    body = json.dumps(event("email.delivered", email_id, address))
    headers = signed_headers(body, msg_id="msg_rotating")
    stale_key = signed_headers(body, msg_id="msg_rotating", secret=OTHER_SECRET)
    # During a secret rotation Svix sends a signature per secret, space-separated.
    headers["svix-signature"] = f"{stale_key['svix-signature']} {headers['svix-signature']}"
    assert (await client.post("/email/events", data=body, headers=headers)).status == 200
    assert (await delivery(database, email_id)).status == DeliveryStatus.DELIVERED


def _unsigned(body: str) -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _wrong_secret(body: str) -> dict[str, str]:
    return signed_headers(body, secret=OTHER_SECRET)


def _stale(body: str) -> dict[str, str]:
    return signed_headers(body, at=datetime.now(UTC) - timedelta(minutes=6))


def _from_the_future(body: str) -> dict[str, str]:
    return signed_headers(body, at=datetime.now(UTC) + timedelta(minutes=6))


def _no_id(body: str) -> dict[str, str]:
    headers = signed_headers(body)
    del headers["svix-id"]
    return headers


def _garbled(body: str) -> dict[str, str]:
    return {**signed_headers(body), "svix-signature": "v1,not*base64 nonsense"}


@pytest.mark.parametrize(
    "headers_for",
    [_unsigned, _wrong_secret, _stale, _from_the_future, _no_id, _garbled],
)
async def test_a_bad_signature_is_refused_and_changes_nothing(
    client: TestClient[Any, Any],
    database: Database,
    sent: dict[str, str],
    headers_for: Any,
) -> None:
    email_id, address = next(iter(sent.items()))
    body = json.dumps(bounced(email_id, address))
    before = await row_counts(database)
    response = await client.post("/email/events", data=body, headers=headers_for(body))
    assert response.status == 403
    assert (await response.json())["error"] == "forbidden"
    assert await row_counts(database) == before
    assert (await delivery(database, email_id)).status == DeliveryStatus.SENT


async def test_a_changed_body_is_refused(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    (email_id, address), (other_id, other_address), _ = sent.items()
    signed = json.dumps(event("email.delivered", email_id, address))
    changed = json.dumps(bounced(other_id, other_address))
    response = await client.post("/email/events", data=changed, headers=signed_headers(signed))
    assert response.status == 403
    assert await suppressions(database) == []
    assert (await delivery(database, other_id)).status == DeliveryStatus.SENT


async def test_unknown_event_types_are_acknowledged_and_ignored(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    email_id, address = next(iter(sent.items()))
    before = await row_counts(database)
    for kind in ("email.sent", "email.delivery_delayed", "email.clicked", "contact.created"):
        response = await post_event(client, event(kind, email_id, address))
        assert response.status == 200
        assert (await response.json())["status"] == "ignored"
    assert await row_counts(database) == before
    assert (await delivery(database, email_id)).status == DeliveryStatus.SENT


async def test_a_bounce_of_an_email_we_have_no_delivery_for_still_suppresses(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    # A test send to a planner, say: the sender address names the organisation.
    response = await post_event(client, bounced(str(uuid.uuid4()), "Planner <Pat@Example.org>"))
    assert response.status == 200
    [entry] = await suppressions(database)
    assert (entry.address, entry.reason) == ("pat@example.org", SuppressionReason.BOUNCE)


async def test_signed_nonsense_is_a_bad_request(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    for body in ("not json", json.dumps({"type": "email.bounced", "data": {}}), "[]"):
        response = await client.post("/email/events", data=body, headers=signed_headers(body))
        assert response.status == 400, body
        assert (await response.json())["error"] == "bad_request"
    assert await suppressions(database) == []


async def test_without_a_secret_the_endpoint_says_what_is_missing(
    aiohttp_client: ClientFactory, database: Database
) -> None:
    settings = app_settings(database_url(database))
    settings = dataclasses.replace(settings, web=WebSettings(resend_webhook_secret=None))
    client = await aiohttp_client(create_app(settings))
    body = json.dumps(event("email.delivered", "x", "a@example.com"))
    response = await client.post("/email/events", data=body, headers=signed_headers(body))
    assert response.status == 503
    answer = await response.json()
    assert answer["error"] == "not_configured"
    assert "RESEND_WEBHOOK_SECRET" in answer["message"]


async def test_delivery_and_bounce_reports_are_counted_once_each(
    client: TestClient[Any, Any], sent: dict[str, str]
) -> None:
    (first, first_address), (second, second_address), _ = sent.items()
    for _ in range(2):  # Resend retries: the repeat moves nothing and counts nothing
        await post_event(client, event("email.delivered", first, first_address))
        await post_event(client, bounced(second, second_address))
    text = await (await client.get("/metrics")).text()
    counted = {
        row.split("{")[1].split("}")[0]: float(row.split()[-1])
        for row in text.splitlines()
        if row.startswith("guestcomms_delivery_reports_total{")
    }
    assert counted == {
        'channel="email",provider="resend",status="delivered"': 1.0,
        'channel="email",provider="resend",status="undelivered"': 1.0,
    }

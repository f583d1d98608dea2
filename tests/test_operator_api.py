"""The operator API's answers for known data, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from redis.asyncio import Redis
from sqlalchemy import insert, select, update

from dispatch.actors import SEND_QUEUE
from dispatch.broker import backlog
from handlers.api_tokens import ApiTokens
from handlers.app import create_app
from store.database import Database
from store.enums import CampaignState, Channel, DeliveryStatus, InboundClass, Role, RsvpStatus
from store.enums import SuppressionReason as Reason
from store.models import Delivery, Guest, InboundMessage, Organisation, Suppression
from store.models.base import utcnow
from store.repositories.campaigns import CampaignRepository
from store.repositories.suppressions import SuppressionLedger
from tests.dispatch_harness import APPROVER, PLANNER, draft_for_approval, make_guests
from tests.web_harness import JWT_SECRET, ClientFactory, app_settings

Client = TestClient[Any, Any]
S = DeliveryStatus


@dataclass
class Sample:
    now: datetime
    organisation: str
    other_organisation: str
    campaign_id: int
    other_campaign_id: int
    oldest_waiting: datetime


async def _sample(db: Database) -> Sample:
    """One sending campaign with deliveries in every interesting state, and a second
    organisation with a campaign of its own and one guest."""
    now = utcnow()
    organisation_id, wedding_id, planner, _ = await make_guests(db, 10)
    campaign_id = await draft_for_approval(db, organisation_id, wedding_id, planner)
    other_id, other_wedding, other_planner, _ = await make_guests(db, 1)
    other_campaign = await draft_for_approval(db, other_id, other_wedding, other_planner)
    minutes = timedelta(minutes=1)
    rows: list[tuple[Channel, DeliveryStatus, dict[str, Any]]] = [
        (Channel.EMAIL, S.PENDING, {"created_at": now - 10 * minutes}),
        (Channel.EMAIL, S.PENDING, {"created_at": now - 5 * minutes}),
        (Channel.SMS, S.DEFERRED, {"not_before": now + 60 * minutes}),
        (Channel.SMS, S.SENDING, {"lease_expires_at": now - minutes, "lease_owner": "w1"}),
        (Channel.EMAIL, S.SENT, {"sent_at": now - 60 * minutes}),
        (Channel.SMS, S.DELIVERED, {"sent_at": now - 60 * minutes, "delivered_at": now}),
        (
            Channel.SMS,
            S.FAILED,
            {"error_code": "30003", "error_message": "Unreachable destination handset"},
            # updated 30 minutes ago (below)
        ),
        (Channel.EMAIL, S.FAILED, {"error_code": "550", "error_message": "Mailbox unavailable"}),
        (Channel.EMAIL, S.FAILED, {"error_code": "421", "error_message": "Old news"}),
        (Channel.EMAIL, S.SUPPRESSED, {}),
    ]
    failed_at = [now - 30 * minutes, now - 20 * minutes, now - timedelta(days=2)]
    async with db.transaction() as session:
        campaigns = CampaignRepository(session)
        await campaigns.transition(campaign_id, CampaignState.APPROVED, APPROVER)
        await campaigns.transition(campaign_id, CampaignState.SENDING, APPROVER)
        guests = list(
            await session.scalars(
                select(Guest.id).where(Guest.wedding_id == wedding_id).order_by(Guest.id)
            )
        )
        values = []
        for guest_id, (channel, status, extra) in zip(guests, rows, strict=True):
            updated = failed_at.pop(0) if status == S.FAILED else now
            values.append(
                {
                    "campaign_id": campaign_id,
                    "guest_id": guest_id,
                    "channel": channel,
                    "address": f"guest{guest_id}@example.com",
                    "status": status,
                    "attempts": 1,
                    "created_at": now - timedelta(minutes=2),
                    "updated_at": updated,
                    **extra,
                }
            )
        await session.execute(insert(Delivery), values)
        await session.execute(
            update(Guest).where(Guest.id.in_(guests[:2])).values(rsvp_status=RsvpStatus.CONFIRMED)
        )
        await session.execute(
            update(Guest).where(Guest.id == guests[2]).values(rsvp_status=RsvpStatus.DECLINED)
        )
        for received, sid in ((now - minutes, "SM1"), (now - timedelta(days=3), "SM2")):
            session.add(
                InboundMessage(
                    organisation_id=organisation_id,
                    guest_id=guests[0],
                    channel=Channel.SMS,
                    provider="twilio",
                    provider_message_id=sid,
                    from_address="+12012000000",
                    to_address="+12015550000",
                    body="yes 2",
                    classification=InboundClass.RSVP,
                    received_at=received,
                )
            )
        ledger = SuppressionLedger(session)
        for channel, address, reason in (
            (Channel.SMS, "+12015550123", Reason.STOP),
            (Channel.EMAIL, "gone@example.com", Reason.UNSUBSCRIBE),
            (Channel.EMAIL, "old@example.com", Reason.BOUNCE),
        ):
            await ledger.suppress(
                PLANNER,
                organisation_id=organisation_id,
                channel=channel,
                address=address,
                reason=reason,
                source="test",
            )
        await session.execute(
            update(Suppression)
            .where(Suppression.address == "old@example.com")
            .values(created_at=now - timedelta(days=2))
        )
        slugs = dict(
            (
                await session.execute(
                    select(Organisation.id, Organisation.slug).where(
                        Organisation.id.in_([organisation_id, other_id])
                    )
                )
            ).all()
        )
    return Sample(
        now,
        slugs[organisation_id],
        slugs[other_id],
        campaign_id,
        other_campaign,
        now - 10 * minutes,
    )


@pytest.fixture
async def sample(database: Database) -> Sample:
    return await _sample(database)


@pytest.fixture
async def client(aiohttp_client: ClientFactory, database: Database) -> Client:
    url = database.url.render_as_string(hide_password=False)
    return await aiohttp_client(create_app(app_settings(url)))


def _token(role: Role = Role.ADMIN, organisation: str | None = None) -> str:
    return ApiTokens([JWT_SECRET]).issue(role, organisation=organisation)


async def _get(
    client: Client, path: str, role: Role = Role.ADMIN, organisation: str | None = None
) -> tuple[int, Any]:
    response = await client.get(
        path, headers={"Authorization": f"Bearer {_token(role, organisation)}"}
    )
    assert response.content_type == "application/json"
    return response.status, await response.json()


async def test_queue_status_counts_what_waits(client: Client, sample: Sample) -> None:
    status, body = await _get(client, "/api/communications/queue/status", Role.VIEWER)
    assert status == 200
    oldest = body.pop("oldest_waiting")
    assert body == {
        "organisation": None,
        "waiting": 4,
        "by_status": {"pending": 2, "sending": 1, "deferred": 1},
        "by_channel": {
            "email": {"pending": 2, "sending": 0, "deferred": 0},
            "sms": {"pending": 0, "sending": 1, "deferred": 1},
        },
        "expired_leases": 1,
        "broker": {
            "backlog": None,
            "note": "in-process broker (no REDIS_URL): only the database counts are known",
        },
    }
    assert datetime.fromisoformat(oldest["created_at"]) == sample.oldest_waiting
    assert 600 <= oldest["age_seconds"] < 900


async def test_an_organisations_token_sees_only_its_queue(client: Client, sample: Sample) -> None:
    status, body = await _get(
        client, "/api/communications/queue/status", Role.VIEWER, sample.other_organisation
    )
    assert status == 200
    assert (body["organisation"], body["waiting"], body["oldest_waiting"]) == (
        sample.other_organisation,
        0,
        None,
    )
    assert body["broker"]["backlog"] is None


async def test_campaign_status_counts_and_progress(client: Client, sample: Sample) -> None:
    status, body = await _get(
        client, f"/api/communications/campaigns/{sample.campaign_id}/status", Role.PLANNER
    )
    assert status == 200
    zero = {s.value: 0 for s in DeliveryStatus}
    assert body["state"] == "sending"
    assert body["name"] == "Invitations"
    assert body["channels"] == ["email", "sms"]
    assert body["deliveries"] == {
        "total": 10,
        "by_status": {
            **zero,
            "pending": 2,
            "deferred": 1,
            "sending": 1,
            "sent": 1,
            "delivered": 1,
            "failed": 3,
            "suppressed": 1,
        },
        "by_channel": {
            "email": {**zero, "pending": 2, "sent": 1, "failed": 2, "suppressed": 1},
            "sms": {**zero, "deferred": 1, "sending": 1, "delivered": 1, "failed": 1},
        },
    }
    assert body["progress"] == {"finished": 6, "waiting": 4, "percent": 60.0}
    assert body["started_at"] is None


async def test_campaign_status_of_unknown_or_foreign_campaigns_is_404(
    client: Client, sample: Sample
) -> None:
    path = "/api/communications/campaigns/{}/status"
    for campaign in ("999999", "9" * 20):
        status, body = await _get(client, path.format(campaign))
        assert status == 404
        assert body["error"] == "not_found"
    foreign = sample.other_organisation
    status, body = await _get(client, path.format(sample.campaign_id), Role.VIEWER, foreign)
    assert (status, body["message"]) == (404, f"Campaign {sample.campaign_id} was not found.")
    status, body = await _get(client, path.format(sample.other_campaign_id), Role.VIEWER, foreign)
    assert (status, body["state"], body["progress"]["percent"]) == (200, "pending_approval", None)
    status, body = await _get(client, path.format("abc"))
    assert (status, body["field"]) == (400, "id")


async def test_admin_errors_newest_first_with_codes(client: Client, sample: Sample) -> None:
    status, body = await _get(client, "/api/admin/errors")
    assert status == 200
    assert body["limit"] == 50
    assert [(e["channel"], e["error_code"], e["error_message"]) for e in body["errors"]] == [
        ("email", "550", "Mailbox unavailable"),
        ("sms", "30003", "Unreachable destination handset"),
        ("email", "421", "Old news"),
    ]
    first = body["errors"][0]
    assert first["campaign_id"] == sample.campaign_id
    assert first["status"] == "failed"
    assert datetime.fromisoformat(first["at"]) == sample.now - timedelta(minutes=20)

    status, body = await _get(client, "/api/admin/errors?limit=1")
    assert [e["error_code"] for e in body["errors"]] == ["550"]
    status, body = await _get(client, "/api/admin/errors", Role.OWNER, sample.other_organisation)
    assert (status, body["errors"]) == (200, [])


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten", "", "99999999999"])
async def test_admin_errors_limit_is_checked(client: Client, limit: str) -> None:
    status, body = await _get(client, f"/api/admin/errors?limit={limit}")
    assert status == 400
    assert body["error"] == "invalid_parameter"
    assert body["field"] == "limit"
    assert body["message"] == "Limit must be a whole number from 1 to 500."


async def test_dashboard_sums_the_last_day(client: Client, sample: Sample) -> None:
    status, body = await _get(client, "/api/admin/metrics/dashboard")
    assert status == 200
    assert body["window"]["hours"] == 24
    assert body["messages"] == {
        "email": {"sent": 1, "delivered": 0, "failed": 1},
        "sms": {"sent": 1, "delivered": 1, "failed": 1},
    }
    assert body["opt_outs"] == {
        "total": 2,
        "by_channel": {"email": 1, "sms": 1},
        "by_reason": {"stop": 1, "unsubscribe": 1},
    }
    # Eleven guests in two organisations; one RSVP text within the day.
    assert body["rsvps"] == {
        "replies": 1,
        "guests": {"confirmed": 2, "declined": 1, "pending": 8},
    }
    assert body["queue_size"] == 4

    status, body = await _get(
        client, "/api/admin/metrics/dashboard", Role.ADMIN, sample.other_organisation
    )
    assert body["messages"]["sms"] == {"sent": 0, "delivered": 0, "failed": 0}
    assert (body["opt_outs"]["total"], body["rsvps"], body["queue_size"]) == (
        0,
        {"replies": 0, "guests": {"pending": 1}},
        0,
    )


async def test_suppression_lookup_normalises_and_shows_history(
    client: Client, database: Database, sample: Sample
) -> None:
    async with database.transaction() as session:
        organisation = await session.scalar(
            select(Organisation).where(Organisation.slug == sample.organisation)
        )
        assert organisation is not None
        ledger = SuppressionLedger(session)
        await ledger.lift(
            PLANNER,
            organisation_id=organisation.id,
            channel=Channel.SMS,
            address="+12015550123",
            source="sms_reply",
        )
        await ledger.suppress(
            PLANNER,
            organisation_id=organisation.id,
            channel=Channel.SMS,
            address="+12015550123",
            reason=Reason.STOP,
            source="twilio_reply",
            detail="STOP",
        )
    status, body = await _get(
        client, "/api/admin/suppressions?channel=sms&address=(201)%20555-0123"
    )
    assert status == 200
    assert (body["address"], body["suppressed"], body["suppressed_for"]) == (
        "+12015550123",
        True,
        [sample.organisation],
    )
    assert [(h["active"], h["source"], h["lifted_source"]) for h in body["history"]] == [
        (True, "twilio_reply", None),
        (False, "test", "sms_reply"),
    ]
    assert body["history"][0]["reason"] == "stop"

    status, body = await _get(
        client, "/api/admin/suppressions?channel=email&address=%20Gone@Example.COM"
    )
    assert (body["address"], body["suppressed"]) == ("gone@example.com", True)
    status, body = await _get(
        client,
        "/api/admin/suppressions?channel=sms&address=%2B12015550123",
        Role.ADMIN,
        sample.other_organisation,
    )
    assert (status, body["suppressed"], body["history"]) == (200, False, [])


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("address=%2B12015550123", "channel", "Channel must be sms or email."),
        ("channel=fax&address=x", "channel", "Channel must be sms or email."),
        ("channel=sms", "address", "Address is required"),
        ("channel=sms&address=12", "address", "is not a valid phone number"),
        ("channel=email&address=nobody", "address", "is not a valid email address"),
    ],
)
async def test_suppression_lookup_names_the_bad_field(
    client: Client, query: str, field: str, says: str
) -> None:
    status, body = await _get(client, f"/api/admin/suppressions?{query}")
    assert (status, body["field"]) == (400, field)
    assert says in body["message"]


async def test_queue_status_reads_the_brokers_backlog_in_redis(
    aiohttp_client: ClientFactory, sqlite_database_url: str, redis_url: str
) -> None:
    namespace = f"gctest-{uuid.uuid4().hex[:10]}"
    broker = RedisBroker(url=redis_url, namespace=namespace)  # type: ignore[no-untyped-call]
    broker.declare_queue(SEND_QUEUE)
    settings = app_settings(sqlite_database_url, redis_url, broker_namespace=namespace)
    client = await aiohttp_client(create_app(settings))
    try:
        for delay in (None, 60_000):
            broker.enqueue(
                Message(
                    queue_name=SEND_QUEUE,
                    actor_name="send_batch",
                    args=(1, 1, 1),
                    kwargs={},
                    options={},
                ),
                delay=delay,
            )
        status, body = await _get(client, "/api/communications/queue/status")
        assert status == 200
        assert body["broker"] == {"backlog": 2, "queue": SEND_QUEUE}
        assert backlog(broker, SEND_QUEUE) == 2
    finally:
        broker.close()
        redis = Redis.from_url(redis_url)
        keys = [key async for key in redis.scan_iter(f"{namespace}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_admin_errors_are_redacted_and_include_refused_webhooks(
    client: Client, database: Database, sample: Sample
) -> None:
    async with database.transaction() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.error_code == "30003")
            .values(error_message="The 'To' number +14155550123 (jane@example.com) is unreachable")
        )
    refused = await client.post("/twilio/sms", data={"Body": "STOP", "From": "+14155550123"})
    assert refused.status == 403
    status, body = await _get(client, "/api/admin/errors")
    assert status == 200
    messages = [e["error_message"] for e in body["errors"] if e["kind"] == "delivery_failed"]
    assert "The 'To' number [phone] ([email]) is unreachable" in messages
    http = [e for e in body["errors"] if e["kind"] == "http"]
    assert [(e["route"], e["status"]) for e in http] == [("/twilio/sms", 403)]
    assert "+14155550123" not in str(body)
    # A token for one organisation sees its own deliveries only, not the install's requests.
    status, body = await _get(client, "/api/admin/errors", Role.OWNER, sample.organisation)
    assert {e["kind"] for e in body["errors"]} == {"delivery_failed"}

"""POST /twilio/sms through the real app, signed with Twilio's own validator."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date
from typing import Any
from xml.etree import ElementTree

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from handlers.app import create_app
from store.audit import Actor
from store.database import Database
from store.enums import Channel, DeliveryStatus, InboundClass, RsvpStatus, SuppressionReason
from store.models import (
    AuditEntry,
    Campaign,
    ConsentRecord,
    Delivery,
    Event,
    Guest,
    InboundMessage,
    Organisation,
    Suppression,
    Wedding,
)
from store.models.base import utcnow
from store.models.monitoring import MetricBucket
from store.repositories.suppressions import SuppressionLedger
from tests.dispatch_harness import make_guests
from tests.twilio_webhook_client import ORGANISATION_NUMBER, new_sid, post_signed, text_from
from tests.web_harness import ClientFactory, app_settings

GUEST = "+12012000001"  # make_guests' Guest 1
STRANGER = "+12025550123"


def database_url(database: Database) -> str:
    return database.url.render_as_string(hide_password=False)


@pytest.fixture
async def client(aiohttp_client: ClientFactory, database: Database) -> TestClient[Any, Any]:
    await make_guests(database, 3)
    return await aiohttp_client(create_app(app_settings(database_url(database))))


def answers(twiml: str) -> list[str]:
    root = ElementTree.fromstring(twiml)  # noqa: S314 (our own answer, in a test)
    assert root.tag == "Response"
    return [message.text or "" for message in root.iter("Message")]


async def text(client: TestClient[Any, Any], sender: str, body: str, **extra: str) -> list[str]:
    response = await post_signed(client, "/twilio/sms", text_from(sender, body, **extra))
    assert response.status == 200
    assert response.content_type == "application/xml"
    return answers(await response.text())


async def active_entries(database: Database, address: str) -> list[Suppression]:
    async with database.reading() as session:
        rows = await session.scalars(
            select(Suppression).where(
                Suppression.address == address, Suppression.lifted_at.is_(None)
            )
        )
        return list(rows)


async def guest(database: Database, phone: str) -> Guest:
    async with database.reading() as session:
        found = await session.scalar(select(Guest).where(Guest.phone_index == phone))
        assert found is not None
        return found


async def count(database: Database, model: type[Any]) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_stop_suppresses_at_once_and_twilio_confirms_it(
    client: TestClient[Any, Any], database: Database
) -> None:
    assert await text(client, GUEST, "STOP") == []  # Twilio sends its own confirmation
    # Committed before the answer: another connection sees it now.
    [entry] = await active_entries(database, GUEST)
    assert (entry.channel, entry.reason, entry.source) == (
        Channel.SMS,
        SuppressionReason.STOP,
        "sms_reply",
    )
    async with database.reading() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
        event = await session.scalar(select(Event).where(Event.kind == "guest.replied"))
    assert "suppression.added" in actions
    assert event is not None
    assert event.payload["classification"] == "opt_out"
    assert event.payload["suppressed"] is True


@pytest.mark.parametrize("body", ["Stop all", "opt-out", "OPT OUT!"])
async def test_our_own_keywords_get_exactly_one_confirmation(
    client: TestClient[Any, Any], database: Database, body: str
) -> None:
    [confirmation] = await text(client, GUEST, body)
    assert confirmation.startswith("Evergreen Weddings: You are unsubscribed")
    assert "START" in confirmation
    # A second opt-out changes nothing and is not confirmed again.
    assert await text(client, GUEST, "stop all") == []
    assert len(await active_entries(database, GUEST)) == 1


async def test_a_repeated_message_sid_has_one_effect(
    client: TestClient[Any, Any], database: Database
) -> None:
    params = text_from(GUEST, "please stop texting me")
    first = await post_signed(client, "/twilio/sms", params)
    again = await post_signed(client, "/twilio/sms", params)
    assert len(answers(await first.text())) == 1
    assert answers(await again.text()) == []
    assert await count(database, InboundMessage) == 1
    assert len(await active_entries(database, GUEST)) == 1


async def test_twilio_opt_out_type_is_honoured(
    client: TestClient[Any, Any], database: Database
) -> None:
    # Advanced Opt-Out with a custom keyword: Twilio says it is a STOP and answers it.
    assert await text(client, GUEST, "ARRET", OptOutType="STOP") == []
    assert len(await active_entries(database, GUEST)) == 1


async def test_free_text_asking_to_stop_suppresses_and_asks_planners_to_review(
    client: TestClient[Any, Any], database: Database
) -> None:
    [confirmation] = await text(client, GUEST, "Stop. Thank you")
    assert "unsubscribed" in confirmation
    assert len(await active_entries(database, GUEST)) == 1
    async with database.reading() as session:
        event = await session.scalar(select(Event).where(Event.kind == "guest.replied"))
    assert event is not None
    assert event.payload["review"] is True
    assert event.payload["classification"] == "likely_opt_out"


@pytest.mark.parametrize("body", ["YES", "start", "Unstop"])
async def test_an_opted_out_guest_opts_back_in_and_is_told(
    client: TestClient[Any, Any], database: Database, body: str
) -> None:
    await text(client, GUEST, "STOP")
    [confirmation] = await text(client, GUEST, body)
    assert "subscribed again" in confirmation
    assert await active_entries(database, GUEST) == []
    async with database.reading() as session:
        history = list(await session.scalars(select(Suppression)))
        consent = await session.scalar(
            select(ConsentRecord).where(ConsentRecord.source == "sms_reply")
        )
    assert [entry.lifted_source for entry in history] == ["sms_reply"]  # kept as history
    assert consent is not None
    assert consent.granted


async def test_a_bounce_or_invalid_number_is_not_lifted_by_yes(
    client: TestClient[Any, Any], database: Database
) -> None:
    async with database.transaction() as session:
        organisation_id = await session.scalar(select(Organisation.id))
        assert organisation_id is not None
        await SuppressionLedger(session).suppress(
            Actor("test"),
            organisation_id=organisation_id,
            channel=Channel.SMS,
            address=GUEST,
            reason=SuppressionReason.INVALID,
            source="twilio",
        )
    await text(client, GUEST, "YES")
    assert len(await active_entries(database, GUEST)) == 1


async def test_help_names_the_organisation_how_to_stop_and_a_contact(
    client: TestClient[Any, Any],
) -> None:
    [answer] = await text(client, GUEST, "help")
    assert answer.startswith("Evergreen Weddings:")
    assert "Alex & Sam" in answer
    assert "STOP" in answer
    assert "hello@evergreen.example.com" in answer


async def test_an_rsvp_by_text_records_status_and_party_size(
    client: TestClient[Any, Any], database: Database
) -> None:
    [answer] = await text(client, GUEST, "Yes 2")
    assert "attending" in answer
    assert "party of 2" in answer
    replied = await guest(database, GUEST)
    assert (replied.rsvp_status, replied.party_size) == (RsvpStatus.CONFIRMED, 2)

    [answer] = await text(client, GUEST, "so sorry, can't make it after all")
    assert "cannot come" in answer
    assert (await guest(database, GUEST)).rsvp_status == RsvpStatus.DECLINED
    async with database.reading() as session:
        rsvp_audits = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "guest.rsvp"))
        )
    assert len(rsvp_audits) == 2


async def test_chatter_is_stored_for_the_planners_and_changes_nothing(
    client: TestClient[Any, Any], database: Database
) -> None:
    for body in ("don't stop the music", "What time is the ceremony?", "I can't stop smiling"):
        assert await text(client, GUEST, body) == []
    assert await active_entries(database, GUEST) == []
    async with database.reading() as session:
        stored = list(await session.scalars(select(InboundMessage)))
        events = list(await session.scalars(select(Event).where(Event.kind == "guest.replied")))
    assert [m.classification for m in stored] == [InboundClass.OTHER] * 3
    assert all(m.guest_id is not None for m in stored)
    assert [e.payload["classification"] for e in events] == ["other"] * 3
    assert (await guest(database, GUEST)).rsvp_status == RsvpStatus.PENDING


async def test_a_stop_from_a_number_that_is_no_guests_is_still_recorded(
    client: TestClient[Any, Any], database: Database
) -> None:
    assert await text(client, STRANGER, "STOP") == []
    assert len(await active_entries(database, STRANGER)) == 1


async def test_texts_are_routed_to_the_organisation_owning_the_number(
    aiohttp_client: ClientFactory, database: Database
) -> None:
    await make_guests(database, 2)
    second, _, _, _ = await make_guests(database, 2)
    async with database.transaction() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id == second)
            .values(sms_number="+12015550999", name="Second Weddings")
        )
    client = await aiohttp_client(create_app(app_settings(database_url(database))))
    [answer] = await text(client, GUEST, "help", To="+12015550999")
    assert answer.startswith("Second Weddings:")
    await text(client, GUEST, "STOP", To="+12015550999")
    [entry] = await active_entries(database, GUEST)
    assert entry.organisation_id == second


async def test_with_several_organisations_and_no_route_the_text_is_kept(
    aiohttp_client: ClientFactory, database: Database
) -> None:
    await make_guests(database, 1)
    await make_guests(database, 1)
    client = await aiohttp_client(create_app(app_settings(database_url(database))))
    assert await text(client, GUEST, "What time?", To="+12015550777") == []
    async with database.reading() as session:
        stored = await session.scalar(select(InboundMessage))
    assert stored is not None
    assert stored.organisation_id is None


async def test_an_incomplete_signed_request_is_a_clear_400(
    client: TestClient[Any, Any], database: Database
) -> None:
    params = {"MessageSid": new_sid(), "To": ORGANISATION_NUMBER, "Body": "STOP"}
    response = await post_signed(client, "/twilio/sms", params)
    assert response.status == 400
    assert "From" in (await response.json())["message"]
    assert await count(database, InboundMessage) == 0


async def test_a_burst_of_stops_is_answered_and_stored_in_full(
    client: TestClient[Any, Any], database: Database
) -> None:
    """Many writers at once on one database: none may fail with "database is locked"."""
    numbers = [f"+1202555{n:04d}" for n in range(300)]
    responses = await asyncio.gather(
        *(post_signed(client, "/twilio/sms", text_from(number, "STOP")) for number in numbers)
    )
    assert [response.status for response in responses] == [200] * len(numbers)
    async with database.reading() as session:
        stored = set(await session.scalars(select(Suppression.address)))
    assert stored == set(numbers)


async def test_an_rsvp_from_a_shared_number_goes_to_the_guest_we_last_texted(
    client: TestClient[Any, Any], database: Database
) -> None:
    async with database.transaction() as session:
        household = list(await session.scalars(select(Guest).order_by(Guest.id)))
        first, second = household[0], household[1]
        organisation_id = await session.scalar(select(Organisation.id))
        # The same person invited to a later wedding of the same planners: without
        # our text to them there, the nearer wedding's guest would be the one.
        later = Wedding(
            organisation_id=organisation_id,
            slug="later-day",
            couple_names="Kim & Lee",
            wedding_date=date(2028, 9, 1),
        )
        session.add(later)
        await session.flush()
        second.wedding_id = later.id
        second.phone = first.phone
        campaign = Campaign(
            organisation_id=organisation_id,
            wedding_id=second.wedding_id,
            name="Reminder",
            channels=["sms"],
            template_key="rsvp_reminder",
        )
        session.add(campaign)
        await session.flush()
        session.add(
            Delivery(
                campaign_id=campaign.id,
                guest_id=second.id,
                channel=Channel.SMS,
                address=second.phone,
                status=DeliveryStatus.SENT,
                sent_at=utcnow(),
            )
        )
        shared = first.phone
    assert shared is not None
    await text(client, shared, "yes 2")
    assert (await guest_by_id(database, second.id)).rsvp_status == RsvpStatus.CONFIRMED
    assert (await guest_by_id(database, first.id)).rsvp_status == RsvpStatus.PENDING


async def guest_by_id(database: Database, guest_id: int) -> Guest:
    async with database.reading() as session:
        found = await session.get(Guest, guest_id)
        assert found is not None
        return found


async def test_opt_outs_rsvps_and_webhook_latency_become_metric_rows(
    client: TestClient[Any, Any], database: Database
) -> None:
    """What alert rules and dashboards read: the web process's figures as minute rows."""
    await text(client, GUEST, "Yes 2")
    await text(client, "+12015550987", "STOP")
    await client.close()  # the app's last flush writes what it counted
    # Summed over minutes: the two texts may fall on either side of a minute's end.
    rows: dict[tuple[str, str], tuple[int, float]] = defaultdict(lambda: (0, 0.0))
    async with database.reading() as session:
        for row in await session.scalars(select(MetricBucket)):
            count, total = rows[(row.name, row.labels)]
            rows[(row.name, row.labels)] = (count + row.count, total + row.total)
    assert rows[("rsvps", "channel=sms,status=confirmed")] == (1, 1.0)
    assert rows[("opt_outs", "channel=sms,reason=stop")] == (1, 1.0)
    count, total = rows[("webhook.latency_ms", "route=/twilio/sms")]
    assert count == 2
    assert total > 0

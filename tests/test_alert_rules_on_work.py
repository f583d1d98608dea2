"""The rules that watch the work itself rather than a metric: dead letters, a campaign's
complaint rate and a stalled campaign. Each fires once after its window, names what it
is about, and resolves when the work is well again (a stepped clock over real rows)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from store.audit import Actor
from store.database import Database
from store.enums import CampaignState, Channel, DeliveryStatus, SuppressionReason
from store.models import Campaign, Delivery, Guest
from store.models.base import utcnow
from store.repositories.alert_rules import firing_alerts
from store.repositories.suppressions import SuppressionLedger
from tests.alert_helpers import SteppedClock, Watch, watching
from tests.dispatch_harness import draft_for_approval, make_guests

TICK = 15
MAX_ATTEMPTS = 5


async def campaign_under_way(
    database: Database, clock: SteppedClock, guests: int, channel: Channel
) -> tuple[int, list[Guest]]:
    """A campaign that started sending a minute ago (by the test's clock)."""
    organisation_id, wedding_id, planner, _ = await make_guests(database, guests)
    campaign_id = await draft_for_approval(
        database, organisation_id, wedding_id, planner, channels=(channel,)
    )
    async with database.transaction() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(state=CampaignState.SENDING, started_at=clock() - timedelta(minutes=1))
        )
        people = list(await session.scalars(select(Guest).order_by(Guest.id)))
    return campaign_id, people


async def add_deliveries(
    database: Database, campaign_id: int, people: list[Guest], channel: Channel, **values: Any
) -> None:
    async with database.transaction() as session:
        await session.execute(
            insert(Delivery),
            [
                {
                    "campaign_id": campaign_id,
                    "guest_id": guest.id,
                    "channel": channel,
                    "address": guest.email if channel == Channel.EMAIL else guest.phone,
                    **values,
                }
                for guest in people
            ],
        )


async def ticks(watch: Watch, count: int) -> None:
    for _ in range(count):
        await watch.tick(MAX_ATTEMPTS)
        watch.clock.advance(TICK)


async def firing_subjects(database: Database, slug: str) -> list[str]:
    async with database.reading() as session:
        return [a.subject for a in await firing_alerts(session) if a.rule_slug == slug]


async def organisation_of(database: Database, campaign_id: int) -> int:
    async with database.reading() as session:
        found = await session.scalar(
            select(Campaign.organisation_id).where(Campaign.id == campaign_id)
        )
    assert found is not None
    return found


def headed(watch: Watch, name: str) -> list[str]:
    return [m["text"] for m in watch.top_level() if name in m["text"]]


async def test_messages_that_gave_up_after_every_attempt_raise_one_alert(
    database: Database,
) -> None:
    clock = SteppedClock()
    campaign_id, people = await campaign_under_way(database, clock, 3, Channel.SMS)
    at: datetime = clock()
    await add_deliveries(
        database,
        campaign_id,
        people,
        Channel.SMS,
        status=DeliveryStatus.FAILED,
        attempts=MAX_ATTEMPTS,
        error_code="timeout",
        created_at=at,
        updated_at=at,
    )
    async with watching(database, clock) as watch:
        await ticks(watch, 3)  # under the rule's 60 s window: nothing yet
        assert headed(watch, "Dead-letter messages") == []
        await ticks(watch, 3)
        [text] = headed(watch, "Dead-letter messages")
        assert text.startswith("FIRING P2 (medium): Dead-letter messages")
        assert "3 messages gave up after every attempt in the last hour (threshold: over 0)" in (
            text
        )
        assert "#runbook-dead-letters" in text
        await ticks(watch, 20)
        assert len(headed(watch, "Dead-letter messages")) == 1  # edited in place, not repeated
        # An hour on, those failures are out of the rule's look-back: it clears, then resolves.
        clock.advance(3600)
        await ticks(watch, 6)
        [text] = headed(watch, "Dead-letter messages")
        assert text.startswith("RESOLVED P2 (medium): Dead-letter messages")
        assert len(watch.replies()) == 1
    assert await firing_subjects(database, "dead-letters") == []


async def test_failures_with_attempts_left_are_not_dead_letters(database: Database) -> None:
    clock = SteppedClock()
    campaign_id, people = await campaign_under_way(database, clock, 3, Channel.SMS)
    at = clock()
    await add_deliveries(
        database,
        campaign_id,
        people,
        Channel.SMS,
        status=DeliveryStatus.FAILED,
        attempts=1,  # a permanent failure on the first try: failed, not given up
        error_code="21211",
        created_at=at,
        updated_at=at,
    )
    async with watching(database, clock) as watch:
        await ticks(watch, 10)
        assert headed(watch, "Dead-letter messages") == []


async def test_a_campaign_whose_emails_draw_complaints_is_named(database: Database) -> None:
    clock = SteppedClock(utcnow())  # the ledger dates complaints by the real clock
    campaign_id, people = await campaign_under_way(database, clock, 200, Channel.EMAIL)
    sent_at = clock() - timedelta(seconds=30)
    await add_deliveries(
        database,
        campaign_id,
        people,
        Channel.EMAIL,
        status=DeliveryStatus.DELIVERED,
        attempts=1,
        sent_at=sent_at,
        created_at=sent_at,
        updated_at=sent_at,
    )
    async with watching(database, clock) as watch:
        await ticks(watch, 6)
        assert headed(watch, "Complaint rate") == []  # no complaints: nothing to say

        async def complain(guests: list[Guest]) -> None:
            """Spam complaints, as Resend's events record them (now, by the real clock)."""
            async with database.transaction() as session:
                for guest in guests:
                    assert guest.email is not None
                    await SuppressionLedger(session).suppress(
                        Actor("provider", "resend"),
                        organisation_id=organisation_id,
                        channel=Channel.EMAIL,
                        address=guest.email,
                        reason=SuppressionReason.COMPLAINT,
                        source="resend",
                    )

        organisation_id = await organisation_of(database, campaign_id)
        await complain(people[:1])  # 1 of 200 = 0.5 %, over the 0.3 % threshold
        await ticks(watch, 3)
        assert headed(watch, "Complaint rate") == []  # not yet held for its window
        await ticks(watch, 3)
        [text] = headed(watch, "Complaint rate")
        assert f"Complaint rate — campaign {campaign_id}" in text
        assert f"0.5% of campaign {campaign_id}'s emails drew a spam complaint" in text
        assert "(threshold: over 0.3%)" in text
        await complain(people[1:3])  # now 1.5 %: the same message says so
        await ticks(watch, 2)
        [text] = headed(watch, "Complaint rate")
        assert "1.5% of" in text
    assert await firing_subjects(database, "complaint-rate") == [f"campaign {campaign_id}"]


async def test_a_sending_campaign_that_stops_moving_is_stalled_until_it_moves(
    database: Database,
) -> None:
    clock = SteppedClock()
    campaign_id, people = await campaign_under_way(database, clock, 4, Channel.SMS)
    touched = clock() - timedelta(minutes=1)
    await add_deliveries(
        database,
        campaign_id,
        people,
        Channel.SMS,
        status=DeliveryStatus.PENDING,
        created_at=touched,
        updated_at=touched,
    )
    async with watching(database, clock) as watch:
        # Nine minutes without progress: within the rule's ten.
        for _ in range(9):
            clock.advance(60)
            await watch.tick(MAX_ATTEMPTS)
        assert headed(watch, "Campaign stalled") == []
        # Past ten minutes, held for the window: one alert naming the campaign.
        for _ in range(4):
            clock.advance(30)
            await watch.tick(MAX_ATTEMPTS)
        [text] = headed(watch, "Campaign stalled")
        assert f"Campaign stalled — campaign {campaign_id}" in text
        assert "has made no progress for" in text
        assert "(threshold: over 10 minutes)" in text
        # A worker picks the work up again: the figure drops, it clears and resolves.
        async with database.transaction() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.campaign_id == campaign_id, Delivery.guest_id == people[0].id)
                .values(status=DeliveryStatus.SENT, updated_at=clock())
            )
        await ticks(watch, 6)
        [text] = headed(watch, "Campaign stalled")
        assert text.startswith("RESOLVED P2 (medium): Campaign stalled")


async def test_throttled_and_deferred_campaigns_are_waiting_not_stalled(
    database: Database,
) -> None:
    clock = SteppedClock()
    throttled_id, people = await campaign_under_way(database, clock, 2, Channel.SMS)
    long_ago = clock() - timedelta(minutes=30)
    await add_deliveries(
        database,
        throttled_id,
        people,
        Channel.SMS,
        status=DeliveryStatus.PENDING,
        created_at=long_ago,
        updated_at=long_ago,
    )
    async with database.transaction() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == throttled_id)
            .values(throttled_until=clock() + timedelta(hours=1), started_at=long_ago)
        )
        # Quiet hours: the work is due at 08:00 tomorrow, not now.
        await session.execute(
            update(Delivery)
            .where(Delivery.campaign_id == throttled_id, Delivery.guest_id == people[1].id)
            .values(not_before=clock() + timedelta(hours=12))
        )
    async with watching(database, clock) as watch:
        for _ in range(10):
            clock.advance(60)
            await watch.tick(MAX_ATTEMPTS)
        assert headed(watch, "Campaign stalled") == []

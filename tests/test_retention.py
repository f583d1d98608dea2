"""Message texts are purged by the scheduler a set time after the wedding; figures stay."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from bot.processes import run_scheduler
from dispatch.retention import RetentionSweep
from handlers.app import create_app
from store.database import Database
from store.enums import Channel, DeliveryStatus, RsvpStatus
from store.models import AuditEntry, Delivery, Guest, InboundMessage
from store.models.base import utcnow
from tests.dispatch_harness import (
    Backend,
    draft_for_approval,
    make_guests,
    running_dispatch,
    running_fakes,
    settings_for,
    until,
)
from tests.twilio_webhook_client import post_signed, text_from
from tests.web_harness import ClientFactory, app_settings

WEDDING = date(2027, 6, 12)  # make_guests' wedding
STRANGER = "+12025550999"
PROVIDER_ERROR = "The 'To' number +12012000000 is not a valid phone number."


class SteppedClock:
    """Stands still until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _day(days_after_wedding: int) -> datetime:
    return datetime.combine(WEDDING, datetime.min.time(), UTC) + timedelta(
        days=days_after_wedding, hours=12
    )


async def _bodies(db: Database) -> dict[str, str]:
    """Each text's body, by who sent it."""
    async with db.reading() as session:
        rows = await session.execute(select(InboundMessage.from_address, InboundMessage.body))
        return dict(rows.all())


async def _retention_audit(db: Database) -> list[tuple[str, dict[str, int] | None]]:
    async with db.reading() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.after)
            .where(AuditEntry.action == "retention.purged")
            .order_by(AuditEntry.id)
        )
        return [(actor, after) for actor, after in rows]


async def test_the_scheduler_purges_texts_after_the_wedding_and_keeps_the_figures(
    backend: Backend, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, _ = await make_guests(db, 2)
    webhooks = await aiohttp_client(create_app(app_settings(backend.url, backend.redis_url)))
    guest = "+12012000000"  # make_guests' first guest
    for sender, body in ((guest, "yes 2"), (STRANGER, "who is this?")):
        assert (await post_signed(webhooks, "/twilio/sms", text_from(sender, body))).status == 200
    campaign_id = await draft_for_approval(db, organisation_id, wedding_id, planner)
    async with db.transaction() as session:
        # A text from nobody's number counts from when it came: ten days after the wedding.
        await session.execute(
            update(InboundMessage)
            .where(InboundMessage.from_address == STRANGER)
            .values(received_at=_day(10))
        )
        guest_id = await session.scalar(select(Guest.id).where(Guest.phone_index == guest))
        session.add(
            Delivery(
                campaign_id=campaign_id,
                guest_id=guest_id,
                channel=Channel.SMS,
                address=guest,
                status=DeliveryStatus.FAILED,
                error_code="21211",
                error_message=PROVIDER_ERROR,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    clock = SteppedClock(_day(179))
    with running_fakes() as fakes:
        settings = settings_for(backend.url, fakes, tmp_path, backend.redis_url)
        async with running_dispatch(settings, clock) as run:
            stop = asyncio.Event()
            scheduler = asyncio.create_task(
                run_scheduler(settings, run.dispatching, stop, 0.05, clock)
            )
            try:
                await asyncio.sleep(0.5)  # several ticks, one sweep: nothing is old enough
                assert await _bodies(db) == {guest: "yes 2", STRANGER: "who is this?"}
                assert await _retention_audit(db) == []

                clock.advance(timedelta(days=2))  # 181 days after the wedding
                await until(lambda: _retention_audit(db), 10, "the purge")
                assert await _bodies(db) == {guest: "", STRANGER: "who is this?"}
                assert await _retention_audit(db) == [
                    (
                        "system",
                        {"inbound_texts": 1, "delivery_errors": 1, "days_after_wedding": 180},
                    )
                ]

                clock.advance(timedelta(days=10))  # 180 days after the stranger's text
                await until(lambda: _purged_all(db), 10, "the stranger's text purged")
            finally:
                stop.set()
                await scheduler
    async with db.reading() as session:
        delivery = await session.scalar(select(Delivery).where(Delivery.campaign_id == campaign_id))
        replies = await session.scalar(select(func.count()).select_from(InboundMessage))
        answered = await session.scalar(select(Guest).where(Guest.phone_index == guest))
    assert delivery is not None
    assert (delivery.status, delivery.error_code, delivery.error_message) == (
        DeliveryStatus.FAILED,
        "21211",
        None,
    )
    assert replies == 2
    assert answered is not None
    assert (answered.rsvp_status, answered.party_size) == (RsvpStatus.CONFIRMED, 2)
    assert len(await _retention_audit(db)) == 2


async def _purged_all(db: Database) -> bool:
    return set((await _bodies(db)).values()) == {""}


async def test_the_sweep_runs_at_most_hourly(backend: Backend, tmp_path: Path) -> None:
    clock = SteppedClock(_day(0))
    with running_fakes() as fakes:
        settings = settings_for(backend.url, fakes, tmp_path, backend.redis_url)
        async with running_dispatch(settings, clock) as run:
            sweep = RetentionSweep(run.control)
            assert await sweep.run_if_due() is not None
            clock.advance(timedelta(minutes=59))
            assert await sweep.run_if_due() is None
            clock.advance(timedelta(minutes=1))
            assert await sweep.run_if_due() is not None

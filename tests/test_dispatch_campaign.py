"""Approved campaigns go out through a real broker: every delivery final, each message once.

Run on SQLite with the in-process broker, and on PostgreSQL with Redis
(broker, limits and breaker shared through Redis).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.settings import Settings
from dispatch import control
from dispatch.approval import approve_campaign
from dispatch.reconciler import tick
from store.database import Database
from store.enums import CampaignState, Channel, DeliveryStatus, SuppressionReason, Tier
from store.models import Campaign, Guest
from store.repositories.suppressions import SuppressionLedger
from tests.dispatch_harness import (
    APPROVER,
    PLANNER,
    Backend,
    Fakes,
    deliveries,
    draft_for_approval,
    make_guests,
    midday_clock,
    running_dispatch,
    running_fakes,
    settings_for,
    until,
    wait_for_state,
)


def _settings(backend: Backend, fakes: Fakes, tmp_path: Path, **dispatch: object) -> Settings:
    return settings_for(backend.url, fakes, tmp_path, backend.redis_url, **dispatch)


async def _campaign(db: Database, campaign_id: int) -> Campaign:
    async with db.reading() as session:
        campaign = await session.get(Campaign, campaign_id)
    assert campaign is not None
    return campaign


async def test_a_1000_recipient_two_channel_campaign_reaches_everyone_once(
    backend: Backend, tmp_path: Path
) -> None:
    recipients = 1000
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, recipients)
    campaign_id = await draft_for_approval(db, organisation_id, wedding_id, planner)
    with running_fakes() as fakes:
        async with running_dispatch(_settings(backend, fakes, tmp_path), midday_clock()) as run:
            approved = await approve_campaign(run.control, campaign_id, approver, APPROVER)
            assert (approved.state, approved.batches) == (CampaignState.SENDING, 20)
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED}, 120)
    assert (campaign.sent_count, campaign.failed_count) == (2 * recipients, 0)
    rows = await deliveries(db, campaign_id)
    assert Counter(row.status for row in rows) == {DeliveryStatus.SENT: 2 * recipients}
    assert Counter(fakes.twilio.bodies_by_number().values()) == {1: recipients}
    assert len(fakes.smtp.messages) == len(set(fakes.smtp.message_ids())) == recipients
    assert {r.provider_message_id for r in rows if r.channel == Channel.SMS} == {
        m.sid for m in fakes.twilio.messages
    }


async def test_a_stop_committed_before_the_claim_wins(backend: Backend, tmp_path: Path) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 400)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    last_phone = f"+1201200{399:04d}"
    with running_fakes() as fakes:
        settings = _settings(backend, fakes, tmp_path, sms_messages_per_second=150)
        # One worker thread: the four batches run one after another.
        async with running_dispatch(settings, midday_clock(), threads=1) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await until(lambda: fakes.twilio.messages, 30, "a first text")
            async with db.transaction() as session:
                await SuppressionLedger(session).suppress(
                    PLANNER,
                    organisation_id=organisation_id,
                    channel=Channel.SMS,
                    address=last_phone,
                    reason=SuppressionReason.STOP,
                    source="twilio_reply",
                )
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED}, 60)
    assert fakes.twilio.sent_to(last_phone) == []
    assert len(fakes.twilio.messages) == 399
    assert campaign.suppressed_count == 1
    stopped = [row for row in await deliveries(db, campaign_id) if row.address == last_phone]
    assert [(row.status, row.skip_reason) for row in stopped] == [
        (DeliveryStatus.SUPPRESSED, "suppressed:stop")
    ]


async def test_over_the_hourly_limit_a_campaign_waits_and_resumes(
    backend: Backend, tmp_path: Path
) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 60, tier=Tier.FREE)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    clock = midday_clock()
    with running_fakes() as fakes:
        async with running_dispatch(_settings(backend, fakes, tmp_path), clock) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await until(lambda: _throttled(db, campaign_id), 30, "the campaign being throttled")
            campaign = await _campaign(db, campaign_id)
            await asyncio.sleep(0.5)
            assert len(fakes.twilio.messages) == 50  # the Free tier's 50 an hour
            next_hour = clock().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            assert campaign.throttled_until == next_hour
            assert campaign.state == CampaignState.SENDING
            clock.advance(timedelta(minutes=61))
            await tick(run.control)
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED}, 60)
    assert len(fakes.twilio.messages) == 60
    assert campaign.sent_count == 60
    assert campaign.throttled_until is None


async def test_cancelling_stops_every_batch_not_yet_claimed(
    backend: Backend, tmp_path: Path
) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 300)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    with running_fakes() as fakes:
        settings = _settings(backend, fakes, tmp_path, sms_messages_per_second=100)
        async with running_dispatch(settings, midday_clock(), threads=1) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await until(lambda: fakes.twilio.messages, 30, "a first text")
            cancelled = await control.cancel(run.control, campaign_id, PLANNER)
            assert cancelled >= 100
            await _until_nothing_in_flight(db, campaign_id)
            sent_by_then = len(fakes.twilio.messages)
            await asyncio.sleep(1)
    rows = await deliveries(db, campaign_id)
    counts = Counter(row.status for row in rows)
    assert counts[DeliveryStatus.SENT] == sent_by_then == len(fakes.twilio.messages) < 300
    assert counts[DeliveryStatus.SENT] + counts[DeliveryStatus.CANCELLED] == 300
    async with db.reading() as session:
        campaign = await session.get(Campaign, campaign_id)
    assert campaign is not None
    assert campaign.state == CampaignState.CANCELLED


async def _until_nothing_in_flight(db: Database, campaign_id: int) -> None:
    for _ in range(600):
        if all(row.status != DeliveryStatus.SENDING for row in await deliveries(db, campaign_id)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("deliveries stayed in flight")


async def _throttled(db: Database, campaign_id: int) -> bool:
    return (await _campaign(db, campaign_id)).throttled_until is not None


async def test_an_address_beyond_ascii_fails_alone_and_the_rest_go(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    # Address checks accept “josé@…”; email headers here cannot carry it. That one
    # email fails, said so, and the batch's other guests get theirs.
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 5)
    async with db.transaction() as session:
        guest = await session.scalar(
            select(Guest).where(Guest.wedding_id == wedding_id).order_by(Guest.id)
        )
        assert guest is not None
        guest.email = "josé@example.com"
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.EMAIL,)
    )
    with running_fakes() as fakes:
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    rows = await deliveries(db, campaign_id)
    failed = [r for r in rows if r.status == DeliveryStatus.FAILED]
    assert [r.address for r in failed] == ["josé@example.com"]
    assert "could not be composed" in (failed[0].error_message or "")
    assert len(fakes.smtp.messages) == 4

"""Time in dispatch: quiet hours, scheduled starts, pausing — and the reconciler's tick."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from dispatch import control
from dispatch.approval import approve_campaign
from dispatch.compose.composer import CampaignContent, Composer, OrganisationFacts
from dispatch.compose.tokens import GuestFacts, WeddingFacts
from dispatch.reconciler import tick
from store.database import Database
from store.enums import CampaignState, Channel, DeliveryStatus
from store.models import Campaign, Delivery, Guest, Organisation, Wedding
from store.models.base import utcnow
from tests.dispatch_harness import (
    APPROVER,
    PLANNER,
    MovableClock,
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


async def test_texts_in_quiet_hours_wait_until_eight_and_email_does_not(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 10)
    campaign_id = await draft_for_approval(db, organisation_id, wedding_id, planner)
    clock = MovableClock("22:30")  # in New Jersey, where the guests' numbers are
    with running_fakes() as fakes:
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, clock) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await until(lambda: len(fakes.smtp.messages) == 10, 30, "the emails")
            await until(lambda: _all_sms(db, campaign_id, DeliveryStatus.DEFERRED), 30, "deferral")
            assert fakes.twilio.messages == []
            rows = [r for r in await deliveries(db, campaign_id) if r.channel == Channel.SMS]
            waits = {
                r.not_before.astimezone(clock.zone).strftime("%H:%M") for r in rows if r.not_before
            }
            assert waits == {"08:00"}
            clock.advance(timedelta(hours=9, minutes=31))  # 08:01 next morning
            await tick(run.control)
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    assert len(fakes.twilio.messages) == 10
    assert (campaign.sent_count, campaign.deferred_count) == (20, 10)


async def _all_sms(db: Database, campaign_id: int, status: DeliveryStatus) -> bool:
    rows = [r for r in await deliveries(db, campaign_id) if r.channel == Channel.SMS]
    return bool(rows) and all(r.status == status for r in rows)


async def test_day_of_logistics_may_text_at_night(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 5)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,), day_of_logistics=True
    )
    with running_fakes() as fakes:
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, MovableClock("23:30")) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    assert len(fakes.twilio.messages) == 5


async def test_a_scheduled_campaign_starts_on_the_tick_after_its_time(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 5)
    clock = midday_clock()
    campaign_id = await draft_for_approval(
        db,
        organisation_id,
        wedding_id,
        planner,
        channels=(Channel.EMAIL,),
        scheduled_at=clock() + timedelta(hours=2),
    )
    with running_fakes() as fakes:
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, clock) as run:
            approved = await approve_campaign(run.control, campaign_id, approver, APPROVER)
            assert approved.state == CampaignState.SCHEDULED
            assert (await tick(run.control)).started == 0
            # Its rows wait for their time, not for a lost broker message: ticks in
            # between enqueue nothing for them (each would be a batch claiming nothing).
            clock.advance(timedelta(hours=1))
            waiting = await tick(run.control)
            assert (waiting.started, waiting.requeued) == (0, 0)
            clock.advance(timedelta(hours=1, minutes=1))
            assert (await tick(run.control)).started == 1
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    assert len(fakes.smtp.messages) == 5


async def test_pausing_holds_the_campaign_and_resuming_finishes_it(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 300)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    with running_fakes() as fakes:
        settings = settings_for(sqlite_database_url, fakes, tmp_path, sms_messages_per_second=150)
        async with running_dispatch(settings, midday_clock(), threads=1) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await until(lambda: fakes.twilio.messages, 30, "a first text")
            await control.pause(run.control, campaign_id, PLANNER)
            await until(lambda: _nothing_in_flight(db, campaign_id), 30, "in-flight texts")
            held = len(fakes.twilio.messages)
            await tick(run.control)
            assert len(fakes.twilio.messages) == held < 300
            await control.resume(run.control, campaign_id, PLANNER)
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    assert campaign.sent_count == 300
    assert Counter(fakes.twilio.bodies_by_number().values()) == {1: 300}


async def _nothing_in_flight(db: Database, campaign_id: int) -> bool:
    return all(r.status != DeliveryStatus.SENDING for r in await deliveries(db, campaign_id))


async def test_the_reconciler_asks_twilio_before_sending_again(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    """A worker claimed two texts and died: Twilio had accepted one, not the other."""
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 2)
    # Day-of logistics ignore quiet hours, so the real clock serves at any hour: the
    # reconciler asks Twilio about texts since a time on our clock.
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,), day_of_logistics=True
    )
    clock = utcnow
    with running_fakes() as fakes:
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, clock) as run:
            # Approve with the workers' messages swallowed, then play the dead worker.
            real_enqueue = run.control.enqueue
            run.control.enqueue = lambda ref, delay: None
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            run.control.enqueue = real_enqueue
            rows = await deliveries(db, campaign_id)
            accepted, lost = rows
            text = await _text_for(db, campaign_id, accepted.guest_id)
            await run.control.sms.send_sms(accepted.address, text)
            async with db.transaction() as session:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.campaign_id == campaign_id)
                    .values(
                        status=DeliveryStatus.SENDING,
                        lease_owner="dead-worker",
                        # Ended longer ago than the reconciler's grace period.
                        lease_expires_at=clock() - timedelta(seconds=31),
                    )
                )
            report = await tick(run.control)
            assert (report.settled_sent, report.released) == (1, 1)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    assert fakes.twilio.bodies_by_number() == {accepted.address: 1, lost.address: 1}
    final = {r.address: r for r in await deliveries(db, campaign_id)}
    assert (
        final[accepted.address].provider_message_id == fakes.twilio.sent_to(accepted.address)[0].sid
    )


async def _text_for(db: Database, campaign_id: int, guest_id: int | None) -> str:
    async with db.reading() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        guest = await session.get(Guest, guest_id)
        wedding = await session.get(Wedding, campaign.wedding_id)
        organisation = await session.get(Organisation, campaign.organisation_id)
        assert guest is not None
        assert wedding is not None
        assert organisation is not None
    composer = Composer(
        CampaignContent.of(campaign),
        WeddingFacts.of(wedding, organisation),
        OrganisationFacts.of(organisation),
        for_sending=True,
    )
    return composer.sms_text(GuestFacts.of(guest))

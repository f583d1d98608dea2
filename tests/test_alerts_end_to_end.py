"""End to end: Twilio starts failing every request during a campaign → the breaker opens →
exactly one P1 alert reaches the on-call channel → Twilio recovers → the campaign
finishes → the alert resolves in its thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from dispatch.approval import approve_campaign
from store.database import Database
from store.enums import CampaignState, Channel
from store.models import Event
from tests.alert_helpers import SteppedClock, watching
from tests.dispatch_harness import (
    APPROVER,
    Backend,
    draft_for_approval,
    make_guests,
    midday_clock,
    running_dispatch,
    running_fakes,
    settings_for,
    until,
    wait_for_state,
)


async def breaker_opened(db: Database) -> bool:
    async with db.reading() as session:
        opened = await session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "breaker.opened")
        )
    return bool(opened)


async def test_an_sms_outage_raises_one_p1_alert_that_resolves(
    backend: Backend, tmp_path: Path
) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 120)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    dispatch_clock = midday_clock()
    # The scheduler's tick, run by the test: 15 s of its time per step.
    tick_clock = SteppedClock(dispatch_clock())
    with running_fakes() as fakes:
        settings = settings_for(
            backend.url,
            fakes,
            tmp_path,
            backend.redis_url,
            breaker_min_calls=5,
            breaker_failure_rate=0.5,
            breaker_open_seconds=2,
            send_concurrency=2,
            sms_messages_per_second=40,
        )
        async with (
            running_dispatch(settings, dispatch_clock, threads=1) as run,
            watching(db, tick_clock) as watch,
        ):
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await until(lambda: len(fakes.twilio.messages) >= 10, 30, "the first texts")
            fakes.twilio.failing_status = 503
            # The watch ticks only once the breaker is open: each tick is 15 s of its
            # time, and ticks spent waiting on a slow machine would add up to a
            # stalled campaign (a second alert) before the outage is even seen.
            await until(lambda: breaker_opened(db), 30, "the breaker opening")

            async def alerted() -> bool:
                await watch.tick()
                tick_clock.advance(15)
                await asyncio.sleep(0.05)
                return bool(watch.top_level())

            await until(alerted, 60, "the on-call alert")
            for _ in range(8):  # the outage goes on: the message is kept, not repeated
                await watch.tick()
                tick_clock.advance(15)
            [alert] = watch.top_level()
            assert "FIRING P1 (high): Provider circuit open — sms:twilio" in alert["text"]
            assert "the circuit breaker of sms:twilio is open" in alert["text"]
            assert "#runbook-provider-circuit-open" in alert["text"]

            fakes.twilio.failing_status = None
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED}, 90)

            async def resolved() -> bool:
                await watch.tick()
                tick_clock.advance(15)
                await asyncio.sleep(0.05)
                return bool(watch.replies())

            await until(resolved, 30, "the alert resolving")
    assert campaign.sent_count == 120
    [alert] = watch.top_level()
    assert alert["text"].startswith("RESOLVED P1 (high): Provider circuit open — sms:twilio")
    [resolution] = watch.replies()
    assert resolution["thread_ts"] == alert["ts"]
    assert "Provider circuit open (sms:twilio) has stayed clear" in resolution["text"]
    # Only the one P1 (and its resolution) reached the channel.
    assert len(watch.fake.payloads("chat.postMessage")) == 2

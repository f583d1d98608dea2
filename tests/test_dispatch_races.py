"""Races that must not cost a guest a second text: slow pacing against short leases, a
Twilio that answers too late, an address that changed after approval — and how the
providers' refusals are read."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import update

from dispatch.approval import approve_campaign
from dispatch.batches import enqueue_pending
from dispatch.providers.smtp_email import classify_smtp
from dispatch.providers.twilio_sms import classify_twilio_error
from dispatch.reconciler import tick
from dispatch.runtime import Runtime
from store.database import Database
from store.enums import CampaignState, Channel, SuppressionReason
from store.models import Guest
from store.models.base import utcnow
from store.models.guest import with_indexes
from store.repositories.suppressions import SuppressionLedger
from tests.dispatch_harness import (
    APPROVER,
    PLANNER,
    deliveries,
    draft_for_approval,
    make_guests,
    midday_clock,
    running_dispatch,
    running_fakes,
    settings_for,
    wait_for_state,
)


async def _ticking(control: Runtime, every: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await tick(control)
        await asyncio.sleep(every)


async def test_pacing_slower_than_the_leases_never_doubles_a_text(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 200)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    with running_fakes() as fakes:
        settings = settings_for(
            sqlite_database_url,
            fakes,
            tmp_path,
            sms_messages_per_second=50,
            lease_seconds=1,
            lease_margin_seconds=1,
            provider_timeout_seconds=0.5,
            stale_pending_seconds=1,
        )
        async with running_dispatch(settings, midday_clock(), threads=8) as run:
            stop = asyncio.Event()
            ticker = asyncio.create_task(_ticking(run.control, 0.3, stop))
            try:
                await approve_campaign(run.control, campaign_id, approver, APPROVER)
                await wait_for_state(db, campaign_id, {CampaignState.COMPLETED}, 90)
            finally:
                stop.set()
                await ticker
    assert Counter(fakes.twilio.bodies_by_number().values()) == {1: 200}


async def test_a_twilio_that_answers_too_late_is_asked_not_resent(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 20)
    # Day-of logistics ignore quiet hours, so the real clock serves at any hour: the
    # reconciler asks Twilio about texts since a time on our clock, and Twilio's
    # records carry real times.
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,), day_of_logistics=True
    )
    with running_fakes() as fakes:
        fakes.twilio.answer_delay = 1.0
        settings = settings_for(
            sqlite_database_url,
            fakes,
            tmp_path,
            provider_timeout_seconds=0.3,
            lease_seconds=1,
            lease_margin_seconds=1,
            breaker_open_seconds=1,  # the timeouts open it; it must not hold the test up
        )
        async with running_dispatch(settings, utcnow) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await asyncio.sleep(2)
            fakes.twilio.answer_delay = 0
            for _ in range(100):
                await tick(run.control)
                rows = await deliveries(db, campaign_id)
                if all(r.status == "sent" for r in rows):
                    break
                await asyncio.sleep(0.3)
    assert Counter(fakes.twilio.bodies_by_number().values()) == {1: 20}


async def test_email_goes_to_the_address_that_was_checked(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 3)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.EMAIL,)
    )
    with running_fakes() as fakes:
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, midday_clock(), threads=1) as run:
            swallow = run.control.enqueue
            run.control.enqueue = lambda ref, delay: None
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            run.control.enqueue = swallow
            # After approval the guest's address changes to one that opted out.
            async with db.transaction() as session:
                await session.execute(
                    update(Guest)
                    .where(Guest.email_index == "guest0@example.com")
                    .values(with_indexes({"email": "gone@example.com"}))
                )
                await SuppressionLedger(session).suppress(
                    PLANNER,
                    organisation_id=organisation_id,
                    channel=Channel.EMAIL,
                    address="gone@example.com",
                    reason=SuppressionReason.UNSUBSCRIBE,
                    source="test",
                )
            await enqueue_pending(run.control, campaign_id)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    recipients = sorted(str(m["To"]) for m in fakes.smtp.messages)
    assert "gone@example.com" not in " ".join(recipients)
    assert len(recipients) == 3


@pytest.mark.parametrize(
    ("code", "message", "transient", "suppress"),
    [
        (550, "5.1.1 No such user", False, SuppressionReason.BOUNCE),
        (550, "Requested action not taken: mailbox unavailable", False, SuppressionReason.BOUNCE),
        (553, "5.1.8 Sender address rejected", True, None),
        (550, "5.7.1 Message rejected as spam", False, None),
        (550, "Message rejected as spam", False, None),
        (535, "5.7.8 Authentication failed", True, None),
        (451, "4.3.0 Try again later", True, None),
    ],
)
def test_smtp_refusals_are_read_right(
    code: int, message: str, transient: bool, suppress: SuppressionReason | None
) -> None:
    error = classify_smtp(code, message)
    assert (error.transient, error.suppress) == (transient, suppress)


@pytest.mark.parametrize(
    ("status", "code", "transient", "ambiguous", "suppress"),
    [
        (400, "21610", False, False, SuppressionReason.STOP),
        (400, "21614", False, False, SuppressionReason.INVALID),
        (429, "20429", True, False, None),
        (503, None, True, False, None),
        (500, None, True, True, None),
        (401, "20003", True, False, None),
        (400, "21611", True, False, None),
        (400, "21408", False, False, None),
    ],
)
def test_twilio_refusals_are_read_right(
    status: int, code: str | None, transient: bool, ambiguous: bool, suppress: object
) -> None:
    error = classify_twilio_error(status, code, "…")
    assert (error.transient, error.ambiguous, error.suppress) == (transient, ambiguous, suppress)

"""No text without SMS consent: at approval the plan skips a guest without it, and at
send time a consent withdrawn since the approval still stops the text."""

from __future__ import annotations

from pathlib import Path

from bot.dispatching import build_runtime
from dispatch.approval import approve_campaign
from dispatch.batches import enqueue_rows
from store.database import Database
from store.enums import CampaignState, Channel, DeliveryStatus
from store.guestlist.importer import import_guest_csv
from store.models import Wedding
from tests.dispatch_harness import (
    APPROVER,
    PLANNER,
    Backend,
    deliveries,
    draft_for_approval,
    make_guests,
    midday_clock,
    running_dispatch,
    running_fakes,
    settings_for,
    wait_for_state,
)


def phone(n: int) -> str:  # make_guests' numbering
    return f"+1201200{n:04d}"


async def _says_no(db: Database, wedding_id: int, n: int) -> None:
    """The planner's list now says this guest does not want texts."""
    async with db.transaction() as session:
        wedding = await session.get(Wedding, wedding_id)
        assert wedding is not None
        data = f"name,phone,sms_consent\nGuest {n},{phone(n)},no\n".encode()
        report = await import_guest_csv(session, PLANNER, wedding, data)
    assert report.consent.withdrawn == 1


async def test_texts_go_only_to_guests_whose_consent_holds_when_they_are_sent(
    backend: Backend, tmp_path: Path
) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 4)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    await _says_no(db, wedding_id, 3)
    clock = midday_clock()
    with running_fakes() as fakes:
        settings = settings_for(backend.url, fakes, tmp_path, backend.redis_url)
        # Approved while no worker runs: the deliveries wait, as in a busy queue.
        held = build_runtime(settings, lambda ref, delay: None, clock=clock)
        try:
            await approve_campaign(held, campaign_id, approver, APPROVER)
        finally:
            await held.close()
        await _says_no(db, wedding_id, 1)
        async with running_dispatch(settings, clock) as run:
            rows = await deliveries(db, campaign_id)
            enqueue_rows(run.control, [(campaign_id, row.id) for row in rows])
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    outcome = {
        row.address: (row.status, row.skip_reason) for row in await deliveries(db, campaign_id)
    }
    assert outcome == {
        phone(0): (DeliveryStatus.SENT, None),
        phone(1): (DeliveryStatus.SKIPPED, "no_sms_consent"),  # withdrawn after approval
        phone(2): (DeliveryStatus.SENT, None),
        phone(3): (DeliveryStatus.SKIPPED, "no_sms_consent"),  # none at approval
    }
    assert sorted(message.to for message in fakes.twilio.messages) == [phone(0), phone(2)]

"""Invariant: an opt-out is final before its reply leaves — no text to that number after it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dispatch.approval import approve_campaign
from handlers.app import create_app
from store.enums import CampaignState, Channel, DeliveryStatus
from tests.dispatch_harness import (
    APPROVER,
    Backend,
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
from tests.twilio_webhook_client import post_signed, text_from
from tests.web_harness import ClientFactory, app_settings

GUESTS = 300


def phone(n: int) -> str:  # make_guests' numbering
    return f"+1201{n // 10000 + 200:03d}{n % 10000:04d}"


async def test_no_text_reaches_a_number_after_its_stop_was_answered(
    backend: Backend, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, GUESTS)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    webhooks = await aiohttp_client(create_app(app_settings(backend.url, backend.redis_url)))
    answered: dict[str, datetime] = {}
    clock = midday_clock()
    with running_fakes() as fakes:
        settings = settings_for(
            backend.url, fakes, tmp_path, backend.redis_url, sms_messages_per_second=150
        )
        async with running_dispatch(settings, clock) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await until(lambda: fakes.twilio.messages, 30, "a first text")
            # Guests across the whole list stop while the campaign is going out.
            for n in range(5, GUESTS, 15):
                response = await post_signed(webhooks, "/twilio/sms", text_from(phone(n), "STOP"))
                assert response.status == 200
                answered[phone(n)] = datetime.now(UTC)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    # Every text to a number that stopped was cleared by an opt-out check that
    # began before the STOP's answer (and so before its commit, which a later
    # check would have seen). The text itself may reach the provider a moment
    # after the answer, when it was already on its way.
    sent_rows = [
        row
        for row in await deliveries(db, campaign_id)
        if row.address in answered and row.status == DeliveryStatus.SENT
    ]
    assert {row.address for row in sent_rows} == {
        m.to for m in fakes.twilio.messages if m.to in answered
    }
    cleared_late = [
        (row.address, row.cleared_at, answered[row.address])
        for row in sent_rows
        if row.cleared_at is None or row.cleared_at - clock.offset >= answered[row.address]
    ]
    assert cleared_late == []
    # …and the clearance is no back-dated claim: it came before the text reached Twilio.
    arrived = {m.to: m.created for m in fakes.twilio.messages}
    assert all(
        row.cleared_at is not None and row.cleared_at - clock.offset <= arrived[row.address]
        for row in sent_rows
    )
    rows = {row.address: row.status for row in await deliveries(db, campaign_id)}
    held_back = [number for number in answered if rows[number] == DeliveryStatus.SUPPRESSED]
    assert held_back, "every STOP came too late to hold anything back: the test proves nothing"
    sent_to = {m.to for m in fakes.twilio.messages}
    assert all(number not in sent_to for number in held_back)

"""Invariant: an opt-out is final before its reply leaves — no text to that number after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
# A request to the provider that was already on its way when the STOP committed.
IN_FLIGHT = timedelta(seconds=1)


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
    with running_fakes() as fakes:
        settings = settings_for(
            backend.url, fakes, tmp_path, backend.redis_url, sms_messages_per_second=150
        )
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await until(lambda: fakes.twilio.messages, 30, "a first text")
            # Guests across the whole list stop while the campaign is going out.
            for n in range(5, GUESTS, 15):
                response = await post_signed(webhooks, "/twilio/sms", text_from(phone(n), "STOP"))
                assert response.status == 200
                answered[phone(n)] = datetime.now(UTC)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    # Each text's opt-out check runs just before its request to the provider
    # leaves, so a text checked before the STOP committed can reach the fake a
    # moment after the STOP was answered; anything later was sent after the
    # opt-out was final.
    late = [
        m
        for m in fakes.twilio.messages
        if m.to in answered and m.created > answered[m.to] + IN_FLIGHT
    ]
    assert late == []
    rows = {row.address: row.status for row in await deliveries(db, campaign_id)}
    held_back = [number for number in answered if rows[number] == DeliveryStatus.SUPPRESSED]
    assert held_back, "every STOP came too late to hold anything back: the test proves nothing"
    sent_to = {m.to for m in fakes.twilio.messages}
    assert all(number not in sent_to for number in held_back)

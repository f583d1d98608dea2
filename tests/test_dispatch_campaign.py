"""Approved campaigns go out through a real broker: every delivery final, each message once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dispatch.approval import approve_campaign
from store.database import Database
from store.enums import CampaignState, DeliveryStatus
from tests.dispatch_harness import (
    APPROVER,
    deliveries,
    draft_for_approval,
    make_guests,
    midday_clock,
    running_dispatch,
    running_fakes,
    settings_for,
    wait_for_state,
)

RECIPIENTS = 1000


async def test_a_two_channel_campaign_reaches_everyone_exactly_once(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    organisation_id, wedding_id, planner, approver = await make_guests(sqlite_database, RECIPIENTS)
    campaign_id = await draft_for_approval(sqlite_database, organisation_id, wedding_id, planner)
    with running_fakes() as fakes:
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, midday_clock()) as running:
            approved = await approve_campaign(running.control, campaign_id, approver, APPROVER)
            assert approved.state == CampaignState.SENDING
            assert approved.batches == 2 * RECIPIENTS // 100
            campaign = await wait_for_state(
                sqlite_database, campaign_id, {CampaignState.COMPLETED}, within=120
            )
        assert campaign.sent_count == 2 * RECIPIENTS
        rows = await deliveries(sqlite_database, campaign_id)
        assert Counter(row.status for row in rows) == {DeliveryStatus.SENT: 2 * RECIPIENTS}
        assert Counter(fakes.twilio.bodies_by_number().values()) == {1: RECIPIENTS}
        assert len(fakes.smtp.messages) == RECIPIENTS
        assert len(set(fakes.smtp.message_ids())) == RECIPIENTS
        sms_ids = {row.provider_message_id for row in rows if row.channel == "sms"}
        assert sms_ids == {message.sid for message in fakes.twilio.messages}

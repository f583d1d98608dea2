"""Twilio reporting a text's delivery before our worker has recorded sending it: the report
is kept, and applied by the scheduler's tick once the send is recorded — never lost."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from dispatch.approval import approve_campaign
from dispatch.reconciler import tick
from handlers.app import create_app
from store.enums import CampaignState, Channel, DeliveryStatus
from store.models import EarlyDeliveryReport
from store.models.monitoring import MetricBucket
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
    wait_for_state,
)
from tests.fakes.twilio import AUTH_TOKEN
from tests.twilio_webhook_client import new_sid, post_signed
from tests.web_harness import ClientFactory, app_settings

GUESTS = 12


async def kept_reports(backend: Backend) -> int:
    async with backend.database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(EarlyDeliveryReport)) or 0)


async def test_reports_that_outrun_the_send_are_applied_once_it_is_recorded(
    backend: Backend, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, GUESTS)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    with running_fakes() as fakes:
        settings = settings_for(backend.url, fakes, tmp_path, backend.redis_url)
        webhooks = await aiohttp_client(
            create_app(
                app_settings(
                    backend.url,
                    backend.redis_url,
                    public_base_url=settings.dispatch.public_base_url,
                    twilio_auth_token=AUTH_TOKEN,
                )
            )
        )
        # Each text's "delivered" reaches us before Twilio answers the request that sent it.
        fakes.twilio.report_to = str(webhooks.make_url("")).rstrip("/")
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
            assert [status for _, status in fakes.twilio.reported] == [204] * GUESTS
            rows = await deliveries(db, campaign_id)
            assert {row.status for row in rows} == {DeliveryStatus.SENT}
            assert await kept_reports(backend) == GUESTS
            report = await tick(run.control)
    assert report.early_reports_applied == GUESTS
    rows = await deliveries(db, campaign_id)
    assert {row.status for row in rows} == {DeliveryStatus.DELIVERED}
    assert all(row.delivered_at is not None for row in rows)
    assert await kept_reports(backend) == 0
    async with db.reading() as session:
        delivered = await session.scalar(
            select(func.sum(MetricBucket.count)).where(MetricBucket.name == "messages.delivered")
        )
    assert delivered == GUESTS


async def test_a_report_about_a_message_we_never_sent_is_dropped_after_a_day(
    backend: Backend, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    clock = midday_clock()
    with running_fakes() as fakes:
        settings = settings_for(backend.url, fakes, tmp_path, backend.redis_url)
        webhooks = await aiohttp_client(create_app(app_settings(backend.url, backend.redis_url)))
        params = {
            "MessageSid": new_sid(),
            "MessageStatus": "failed",
            "ErrorCode": "30006",
            "AccountSid": "AC" + "0" * 32,
        }
        assert (await post_signed(webhooks, "/twilio/status", params)).status == 204
        assert await kept_reports(backend) == 1
        async with running_dispatch(settings, clock) as run:
            await tick(run.control)
            assert await kept_reports(backend) == 1  # it may still be recorded
            # A day and an hour after the report arrived (the webhook's clock is real time).
            clock.advance(timedelta(hours=25) - clock.offset)
            assert (await tick(run.control)).early_reports_applied == 0
            assert await kept_reports(backend) == 0

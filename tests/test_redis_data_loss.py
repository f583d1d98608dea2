"""Redis restarts without its data while a campaign waits in the queue, and new work
arrives before the scheduler looks: the lost batches are enqueued again anyway — the
queue not being empty is no sign that nothing was lost."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from bot.dispatching import start_workers, stop_workers, wire
from dispatch.approval import approve_campaign
from dispatch.reconciler import tick
from store.database import Database
from store.enums import CampaignState, Channel
from tests.dispatch_harness import (
    APPROVER,
    _forget_namespace,
    draft_for_approval,
    make_guests,
    midday_clock,
    running_fakes,
    settings_for,
    wait_for_state,
)

pytestmark = pytest.mark.integration

GUESTS = 30


async def test_batches_lost_with_redis_are_enqueued_again_behind_new_work(
    postgres_database: Database, redis_url: str, tmp_path: Path
) -> None:
    db = postgres_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, GUESTS)
    lost = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    later = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    namespace = f"gcloss-{uuid.uuid4().hex[:8]}"
    url = db.url.render_as_string(hide_password=False)
    with running_fakes() as fakes:
        settings = settings_for(
            url, fakes, tmp_path, redis_url, broker_namespace=namespace, stale_pending_seconds=1
        )
        clock = midday_clock()  # outside the guests' quiet hours
        dispatching = wire(settings, namespace, clock)
        control = dispatching.control_runtime(settings, clock)
        worker = None
        try:
            await tick(control)  # the scheduler has looked at Redis before
            await approve_campaign(control, lost, approver, APPROVER)  # no worker running yet
            await _forget_namespace(redis_url, namespace)  # Redis restarts, empty
            await approve_campaign(control, later, approver, APPROVER)  # the queue fills again
            assert await asyncio.to_thread(control.backlog) > 0
            await asyncio.sleep(1.2)  # the lost campaign's rows are now stale
            report = await tick(control)
            assert report.requeued > 0  # though the queue was busy: batch messages, not rows
            worker = start_workers(dispatching, 4)
            for campaign_id in (lost, later):
                await wait_for_state(db, campaign_id, {CampaignState.COMPLETED}, within=60)
            assert (await tick(control)).requeued == 0  # Redis remembered this time
        finally:
            if worker is not None:
                await asyncio.to_thread(stop_workers, worker)
            await control.close()
            dispatching.broker.close()
            await _forget_namespace(redis_url, namespace)
    # Each guest got each campaign's text once: a message enqueued twice claims nothing.
    assert set(fakes.twilio.bodies_by_number().values()) == {2}
    assert len(fakes.twilio.bodies_by_number()) == GUESTS

"""A campaign going out for real, for the fault benchmarks: a fresh PostgreSQL database,
the benchmark's own Redis, the Twilio and SMTP fakes, worker processes and the
scheduler — all gone again when the block ends.

Guests live at midday nowhere in particular: the campaign is marked as
day-of logistics, so quiet hours never hold a text back and the figures
do not depend on the hour the benchmark runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.backends import OwnRedis, fresh_postgres, guestcomms_env
from bench.children import Children
from bench.fleet import Fleet
from bot.dispatching import wire
from dispatch.approval import approve_campaign
from store.database import Database
from store.enums import Channel, DeliveryStatus
from store.migrate import migrate
from store.models import Delivery, Member
from store.repositories.deliveries import WAITING
from tests.data_keys import store_settings
from tests.dispatch_harness import (
    APPROVER,
    Fakes,
    draft_for_approval,
    make_guests,
    running_fakes,
    settings_for,
)


def phone(n: int) -> str:
    """Guest ``n``'s number (``make_guests``' numbering)."""
    return f"+1201{n // 10000 + 200:03d}{n % 10000:04d}"


def email(n: int) -> str:
    return f"guest{n}@example.com"


@dataclass
class LiveCampaign:
    database: Database
    url: str
    campaign_id: int
    approver: Member
    recipients: int
    fakes: Fakes
    redis: OwnRedis
    fleet: Fleet
    namespace: str
    work: Path

    async def approve(self) -> None:
        """Approve as the second member does in Slack: delivery rows, then batches enqueued."""
        settings = settings_for(
            self.url,
            self.fakes,
            self.work,
            self.redis.url,
            broker_namespace=self.namespace,
            enforce_hourly_and_daily_limits=False,
        )
        dispatching = wire(settings, self.namespace)
        control = dispatching.control_runtime(settings)
        try:
            await approve_campaign(control, self.campaign_id, self.approver, APPROVER)
        finally:
            await control.close()
            dispatching.broker.close()

    async def waiting(self) -> int:
        """Deliveries not final yet (pending, claimed, deferred)."""
        async with self.database.reading() as session:
            count = await session.scalar(
                select(func.count()).where(
                    Delivery.campaign_id == self.campaign_id, Delivery.status.in_(WAITING)
                )
            )
        return count or 0

    async def until_final(self, within: float) -> float | None:
        """Seconds until every delivery is final, or None if that did not happen in time."""
        started = time.monotonic()
        while time.monotonic() - started < within:
            if await self.waiting() == 0:
                return time.monotonic() - started
            await asyncio.sleep(0.25)
        return None

    async def rows(self) -> list[Delivery]:
        async with self.database.reading() as session:
            return list(
                await session.scalars(
                    select(Delivery)
                    .where(Delivery.campaign_id == self.campaign_id)
                    .order_by(Delivery.id)
                )
            )

    async def statuses(self) -> Counter[str]:
        return Counter(str(DeliveryStatus(row.status).value) for row in await self.rows())


@contextlib.asynccontextmanager
async def live_campaign(
    name: str,
    children: Children,
    work: Path,
    *,
    recipients: int,
    channels: tuple[Channel, ...],
    workers: int,
    threads: int,
    settings: dict[str, str],
    worker_module: str = "bot.worker",
    scheduler_every: float = 1.0,
) -> AsyncIterator[LiveCampaign]:
    """Everything up and the campaign drafted, not yet approved; ``settings`` are
    environment variables for guestcomms' processes (leases, pacing…)."""
    redis = OwnRedis(children)
    redis.start()
    namespace = f"gcbench-{name}-{uuid.uuid4().hex[:6]}"
    try:
        async with fresh_postgres(name) as url:
            database = Database(store_settings(url))
            try:
                await migrate(database)
                organisation_id, wedding_id, planner, approver = await make_guests(
                    database, recipients
                )
                campaign_id = await draft_for_approval(
                    database,
                    organisation_id,
                    wedding_id,
                    planner,
                    channels=channels,
                    day_of_logistics=True,
                )
                with running_fakes() as fakes:
                    env = guestcomms_env(
                        url, redis.url, namespace, fakes, work / "outbox", **settings
                    )
                    fleet = Fleet(children, env, threads, worker_module)
                    fleet.start_workers(workers)
                    fleet.start_scheduler(scheduler_every)
                    try:
                        yield LiveCampaign(
                            database,
                            url,
                            campaign_id,
                            approver,
                            recipients,
                            fakes,
                            redis,
                            fleet,
                            namespace,
                            work,
                        )
                    finally:
                        # Before the fakes go: nothing may talk to a closed port.
                        children.kill_all()
            finally:
                await database.dispose()
    finally:
        redis.close()

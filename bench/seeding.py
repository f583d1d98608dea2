"""A fresh database with one organisation, N guests and a campaign waiting for approval.

The organisation is the database's only one, so the Slack workspace that
sends the first command links itself to it (a single-workspace install);
its planner (U_PLANNER) wrote the campaign and its approver (U_APPROVER)
approves it. Every guest has an email address, a phone number and SMS
consent; the campaign is day-of logistics, so quiet hours never hold a text
back whatever the hour of the run.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import func, select

from bench.backends import fresh_postgres
from store.database import Database
from store.enums import Channel, DeliveryStatus
from store.migrate import migrate
from store.models import Delivery
from tests.data_keys import store_settings
from tests.dispatch_harness import draft_for_approval, make_guests


@contextlib.asynccontextmanager
async def fresh_database(backend: str, work: Path) -> AsyncIterator[tuple[str, Database]]:
    """("sqlite" | "postgresql") → its URL and an open, migrated Database; gone after."""
    async with contextlib.AsyncExitStack() as stack:
        if backend == "sqlite":
            path = work / f"bench-{uuid.uuid4().hex[:8]}.db"
            url = f"sqlite+aiosqlite:///{path}"
            for leftover in (
                path,
                path.with_name(f"{path.name}-wal"),
                path.with_name(f"{path.name}-shm"),
            ):
                stack.callback(leftover.unlink, missing_ok=True)
        else:
            url = await stack.enter_async_context(fresh_postgres("campaign"))
        database = Database(store_settings(url))
        stack.push_async_callback(database.dispose)
        await migrate(database)
        yield url, database


async def campaign_waiting_for_approval(
    database: Database, recipients: int, channels: tuple[Channel, ...]
) -> int:
    organisation, wedding, planner, _approver = await make_guests(database, recipients)
    return await draft_for_approval(
        database, organisation, wedding, planner, channels=channels, day_of_logistics=True
    )


async def delivery_counts(database: Database, campaign_id: int) -> dict[DeliveryStatus, int]:
    async with database.reading() as session:
        rows = await session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.campaign_id == campaign_id)
            .group_by(Delivery.status)
        )
        return {DeliveryStatus(status): count for status, count in rows.all()}

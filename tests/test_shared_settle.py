"""Concurrent batches' final outcomes go to the database together, each still guarded by
its own batch's lease, and each batch returns only once its own rows are written."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import DBAPIError

from dispatch.shared_settle import shared_settle
from store.database import Database
from store.enums import Channel, DeliveryStatus
from store.models import Delivery
from store.models.base import utcnow
from store.repositories.deliveries import Outcome
from tests.dispatch_harness import draft_for_approval, make_guests


async def _sending(db: Database, owners: list[str]) -> list[int]:
    """One delivery being sent for each owner in ``owners`` (their leases)."""
    organisation_id, wedding_id, planner, _ = await make_guests(db, 1)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.EMAIL,)
    )
    async with db.transaction() as session:
        rows = [
            Delivery(
                campaign_id=campaign_id,
                guest_id=None,
                channel=Channel.EMAIL,
                address=f"guest{n}@example.com",
                status=DeliveryStatus.SENDING,
                lease_owner=owner,
                lease_expires_at=utcnow(),
                attempts=1,
                updated_at=utcnow(),
            )
            for n, owner in enumerate(owners)
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def test_concurrent_outcomes_are_written_together_and_only_by_their_owner(
    database: Database,
) -> None:
    db = database
    owners = [f"worker:{n % 4}" for n in range(12)]
    ids = await _sending(db, owners)
    updates: list[int] = []

    def count(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE DELIVERIES"):
            updates.append(len(params) if isinstance(params, list) else 1)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    settle = shared_settle(db)

    async def one(row_id: int, owner: str) -> None:
        outcome = Outcome(row_id, DeliveryStatus.SENT, provider="smtp", provider_message_id="m")
        await settle.settle(owner, [outcome], utcnow())

    # Every delivery settled by its owner, and the first also by an owner not its own.
    await asyncio.gather(
        *(one(row_id, owner) for row_id, owner in zip(ids, owners, strict=True)),
        one(ids[0], "worker:stale"),
    )
    event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(updates) < len(ids)  # asked at the same time: written together
    assert sum(updates) == len(ids) + 1
    async with db.reading() as session:
        rows = (await session.execute(select(Delivery).where(Delivery.id.in_(ids)))).scalars()
        found = {row.id: row for row in rows}
    assert all(found[i].status == DeliveryStatus.SENT for i in ids)
    assert all(found[i].lease_owner is None for i in ids)


@pytest.mark.integration
async def test_a_failed_write_is_only_the_error_of_the_batch_whose_rows_fail(
    postgres_database: Database,
) -> None:
    db = postgres_database
    ids = await _sending(db, ["worker:1", "worker:2", "worker:3"])
    settle = shared_settle(db)

    async def one(row_id: int, owner: str, provider: str) -> Exception | None:
        outcome = Outcome(row_id, DeliveryStatus.SENT, provider=provider, provider_message_id="m")
        try:
            await settle.settle(owner, [outcome], utcnow())
        except Exception as error:
            return error
        return None

    # Written together, and one is too long for its column: the shared write fails,
    # each batch's rows are then written alone, and only that one batch hears of it.
    good, bad = await asyncio.gather(
        one(ids[0], "worker:1", "smtp"), one(ids[1], "worker:2", "x" * 100)
    )
    assert good is None
    assert isinstance(bad, DBAPIError)
    # The writer goes on.
    assert await one(ids[2], "worker:3", "smtp") is None
    async with db.reading() as session:
        query = select(Delivery.id, Delivery.status).where(Delivery.id.in_(ids))
        statuses = {row.id: row.status for row in await session.execute(query)}
    assert statuses == {
        ids[0]: DeliveryStatus.SENT,
        ids[1]: DeliveryStatus.SENDING,
        ids[2]: DeliveryStatus.SENT,
    }

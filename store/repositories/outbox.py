"""Taking events from the outbox: each is handled by one consumer process, once.

A consumer claims only the kinds it handles (alerts read ``breaker.*``, Slack
reads the guests' and campaigns' events), with one guarded UPDATE: when two
processes claim at once, the ``handled_at IS NULL`` in the WHERE clause lets
each row go to one of them only.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Event


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    organisation_id: int | None
    kind: str
    payload: dict[str, Any]


async def claim_events(
    session: AsyncSession, kinds: Collection[str], now: datetime, limit: int = 200
) -> list[OutboxEvent]:
    """Mark up to ``limit`` unhandled events of ``kinds`` handled, oldest first, and
    return them; a row another process claimed first is not returned."""
    oldest = (
        select(Event.id)
        .where(Event.kind.in_(list(kinds)), Event.handled_at.is_(None))
        .order_by(Event.id)
        .limit(limit)
    )
    rows = await session.execute(
        update(Event)
        .where(Event.id.in_(oldest.scalar_subquery()), Event.handled_at.is_(None))
        .values(handled_at=now)
        .returning(Event.id, Event.organisation_id, Event.kind, Event.payload)
        .execution_options(synchronize_session=False)
    )
    claimed = [
        OutboxEvent(row.id, row.organisation_id, row.kind, dict(row.payload)) for row in rows
    ]
    return sorted(claimed, key=lambda event: event.id)


async def release_events(session: AsyncSession, ids: Sequence[int]) -> None:
    """Give claimed events back (Slack could not take them now): the next pass retries."""
    if ids:
        await session.execute(
            update(Event)
            .where(Event.id.in_(list(ids)))
            .values(handled_at=None)
            .execution_options(synchronize_session=False)
        )

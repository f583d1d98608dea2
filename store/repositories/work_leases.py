"""Leases on singleton work: one process at a time does it, another takes over when the
holder stops renewing (its lease expires)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import WorkLease


async def hold_lease(
    session: AsyncSession, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False when
    another holder's lease is still running. Safe for racing processes: the first
    insert wins, and the renewal is one guarded UPDATE."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(WorkLease)
        .values(name=name, holder=holder, expires_at=now + ttl)
        .on_conflict_do_nothing(index_elements=[WorkLease.name])
    )
    held = await session.execute(
        update(WorkLease)
        .where(
            WorkLease.name == name,
            (WorkLease.holder == holder) | (WorkLease.expires_at <= now),
        )
        .values(holder=holder, expires_at=now + ttl)
        .returning(WorkLease.name)
        .execution_options(synchronize_session=False)
    )
    return held.first() is not None

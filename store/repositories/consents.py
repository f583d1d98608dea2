"""Consent records: evidence that a guest agreed to messages on a channel."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import Channel
from store.models import ConsentRecord, Guest


async def consenting_guest_ids(
    session: AsyncSession,
    wedding_id: int,
    channel: Channel,
    guest_ids: Collection[int] | None = None,
) -> frozenset[int]:
    """Guests of the wedding (or those of ``guest_ids``) whose latest consent record on
    ``channel`` grants it."""
    records = (
        select(ConsentRecord.guest_id, func.max(ConsentRecord.id).label("record_id"))
        .join(Guest, Guest.id == ConsentRecord.guest_id)
        .where(Guest.wedding_id == wedding_id, ConsentRecord.channel == channel)
    )
    if guest_ids is not None:
        records = records.where(ConsentRecord.guest_id.in_(list(guest_ids)))
    latest = records.group_by(ConsentRecord.guest_id).subquery()
    rows = await session.scalars(
        select(ConsentRecord.guest_id)
        .join(latest, ConsentRecord.id == latest.c.record_id)
        .where(ConsentRecord.granted.is_(True))
    )
    return frozenset(guest_id for guest_id in rows if guest_id is not None)

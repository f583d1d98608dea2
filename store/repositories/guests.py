"""Reading guests with what lives beside them (their groups)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Guest, GuestGroup


async def groups_by_guest(session: AsyncSession, wedding_id: int) -> dict[int, list[str]]:
    """Each guest's group names, sorted; guests in no group are absent."""
    memberships = await session.execute(
        select(GuestGroup.guest_id, GuestGroup.name)
        .join(Guest, Guest.id == GuestGroup.guest_id)
        .where(Guest.wedding_id == wedding_id)
        .order_by(GuestGroup.name)
    )
    groups: dict[int, list[str]] = {}
    for guest_id, name in memberships:
        groups.setdefault(guest_id, []).append(name)
    return groups

"""Reading guests with what lives beside them (their groups)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Guest, GuestGroup


async def groups_by_guest(
    session: AsyncSession, wedding_id: int, guest_ids: Collection[int] | None = None
) -> dict[int, list[str]]:
    """Each guest's group names, sorted; guests in no group are absent.

    ``guest_ids`` narrows it to those guests (a batch needs its own, not the
    whole wedding's).
    """
    query = (
        select(GuestGroup.guest_id, GuestGroup.name)
        .join(Guest, Guest.id == GuestGroup.guest_id)
        .where(Guest.wedding_id == wedding_id)
        .order_by(GuestGroup.name)
    )
    if guest_ids is not None:
        query = query.where(GuestGroup.guest_id.in_(list(guest_ids)))
    memberships = await session.execute(query)
    groups: dict[int, list[str]] = {}
    for guest_id, name in memberships:
        groups.setdefault(guest_id, []).append(name)
    return groups

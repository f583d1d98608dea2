"""Reading guests with what lives beside them (their groups), and finding a person's guests."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Guest, GuestGroup, Wedding


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


async def guests_with_addresses(
    session: AsyncSession,
    organisation_id: int,
    emails: Collection[str] = (),
    phones: Collection[str] = (),
) -> list[tuple[Guest, Wedding]]:
    """The organisation's guests, in every wedding, with any of these normalised emails
    or phones (a person's rows, for their data requests), oldest first."""
    conditions = []
    if emails:
        conditions.append(Guest.email_index.in_(list(emails)))
    if phones:
        conditions.append(Guest.phone_index.in_(list(phones)))
    if not conditions:
        return []
    rows = await session.execute(
        select(Guest, Wedding)
        .join(Wedding, Wedding.id == Guest.wedding_id)
        .where(Wedding.organisation_id == organisation_id, or_(*conditions))
        .order_by(Guest.id)
    )
    return [(guest, wedding) for guest, wedding in rows]

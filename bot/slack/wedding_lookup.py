"""Which wedding a Slack request is about, only ever among the caller's organisation's.

``WeddingRepository.resolve`` serves the CLI, which sees every organisation;
from Slack a wedding of another business must be as invisible as a missing one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import AmbiguousWedding, NotFound
from store.models import Wedding


async def weddings_of(session: AsyncSession, organisation_id: int) -> list[Wedding]:
    rows = await session.scalars(
        select(Wedding)
        .where(Wedding.organisation_id == organisation_id)
        .order_by(Wedding.wedding_date, Wedding.id)
    )
    return list(rows)


async def find_wedding(
    session: AsyncSession, organisation_id: int, reference: str | None, channel_id: str = ""
) -> Wedding:
    """By slug or id; without one, the wedding linked to this channel, else the only one."""
    if reference:
        query = select(Wedding).where(Wedding.organisation_id == organisation_id)
        if reference.isascii() and reference.isdigit() and len(reference) <= 9:
            query = query.where(Wedding.id == int(reference))
        else:
            query = query.where(Wedding.slug == reference.lower())
        found = await session.scalar(query)
        if found is None:
            raise NotFound("wedding", reference)
        return found
    weddings = await weddings_of(session, organisation_id)
    in_channel = [w for w in weddings if channel_id and w.slack_channel_id == channel_id]
    if len(in_channel) == 1:
        return in_channel[0]
    if len(weddings) == 1:
        return weddings[0]
    if not weddings:
        raise NotFound("wedding", None)
    names = ", ".join(w.slug for w in weddings[:10])
    raise AmbiguousWedding(f"there are several weddings; name one with --wedding (one of: {names})")

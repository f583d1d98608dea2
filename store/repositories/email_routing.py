"""Which organisation an email from a guest (a reply, a bounce) belongs to."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import Channel
from store.models import Campaign, Delivery, Guest, Organisation, Wedding
from store.repositories.inbound import only_organisation


async def organisation_for_email(
    session: AsyncSession,
    recipients: Collection[str],
    sender: str,
    platform_address: str | None,
) -> Organisation | None:
    """The organisation whose sender address received the email; for mail to the
    platform's shared address, the one the sender is a guest of; in an install
    with one organisation, that one.

    ``recipients`` and ``sender`` are lower-cased addresses.
    """
    wanted = sorted({address for address in recipients if address})
    if wanted:
        routed = await session.scalar(
            select(Organisation)
            .where(func.lower(Organisation.sender_email).in_(wanted))
            .order_by(Organisation.id)
            .limit(1)
        )
        if routed is not None:
            return routed
    if platform_address and platform_address.lower() in wanted:
        found = await organisation_of_guest(session, sender)
        if found is not None:
            return found
    return await only_organisation(session)


async def organisation_of_guest(session: AsyncSession, address: str) -> Organisation | None:
    """The organisation that last emailed this address; else the only one it is a guest of."""
    last = await session.scalar(
        select(Campaign.organisation_id)
        .join(Delivery, Delivery.campaign_id == Campaign.id)
        .where(
            Delivery.channel == Channel.EMAIL,
            Delivery.address == address,
            Delivery.sent_at.is_not(None),
        )
        .order_by(Delivery.sent_at.desc(), Delivery.id.desc())
        .limit(1)
    )
    if last is not None:
        return await session.get(Organisation, last)
    owners = list(
        await session.scalars(
            select(Wedding.organisation_id)
            .join(Guest, Guest.wedding_id == Wedding.id)
            .where(Guest.email_index == address)
            .distinct()
            .limit(2)
        )
    )
    return await session.get(Organisation, owners[0]) if len(owners) == 1 else None

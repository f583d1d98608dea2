"""Keeping message texts only as long as they are useful: purging old ones, keeping counts.

A guest's replies and the providers' error texts about their messages (which
quote addresses) are kept until ``days_after_wedding`` days after the wedding
they belong to; a reply from nobody's number, for that long after it came.
Then the text goes; the row stays, so every figure (deliveries by status,
replies by kind, RSVPs) reads the same. Each purge is audited as the
system's, with counts per organisation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import SYSTEM, AuditRecord
from store.models import Campaign, Delivery, Guest, InboundMessage, Wedding


@dataclass
class Purged:
    """How many texts one purge emptied, per organisation (None: replies routed nowhere)."""

    inbound_texts: Counter[int | None] = field(default_factory=Counter)
    delivery_errors: Counter[int | None] = field(default_factory=Counter)

    @property
    def rows(self) -> int:
        return sum(self.inbound_texts.values()) + sum(self.delivery_errors.values())

    def add(self, other: Purged) -> None:
        self.inbound_texts.update(other.inbound_texts)
        self.delivery_errors.update(other.delivery_errors)


async def purge_old_texts(
    session: AsyncSession, now: datetime, days_after_wedding: int, limit: int
) -> Purged:
    """Empty up to ``limit`` texts of each kind that are past keeping; audited."""
    keep = timedelta(days=days_after_wedding)
    weddings_over = select(Wedding.id).where(Wedding.wedding_date <= (now - keep).date())
    old_replies = (
        select(InboundMessage.id)
        .where(
            InboundMessage.body != "",
            or_(
                InboundMessage.guest_id.in_(
                    select(Guest.id).where(Guest.wedding_id.in_(weddings_over))
                ),
                and_(InboundMessage.guest_id.is_(None), InboundMessage.received_at <= now - keep),
            ),
        )
        .limit(limit)
    )
    purged = Purged()
    replies = await session.execute(
        update(InboundMessage)
        .where(InboundMessage.id.in_(old_replies.scalar_subquery()))
        .values(body="")
        .returning(InboundMessage.organisation_id)
        .execution_options(synchronize_session=False)
    )
    purged.inbound_texts.update(organisation_id for (organisation_id,) in replies)
    old_errors = (
        select(Delivery.id)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Delivery.error_message.is_not(None), Campaign.wedding_id.in_(weddings_over))
        .limit(limit)
    )
    errors = await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(old_errors.scalar_subquery()))
        .values(error_message=None)
        .returning(Delivery.campaign_id)
        .execution_options(synchronize_session=False)
    )
    campaign_ids = Counter(campaign_id for (campaign_id,) in errors)
    if campaign_ids:
        rows = await session.execute(
            select(Campaign.id, Campaign.organisation_id).where(Campaign.id.in_(list(campaign_ids)))
        )
        owners = {row.id: row.organisation_id for row in rows}
        for campaign_id, count in campaign_ids.items():
            purged.delivery_errors[owners[campaign_id]] += count
    await audit.record(
        session,
        SYSTEM,
        (
            AuditRecord(
                organisation_id,
                "retention.purged",
                "organisation",
                organisation_id if organisation_id is not None else "",
                after={
                    "inbound_texts": purged.inbound_texts[organisation_id],
                    "delivery_errors": purged.delivery_errors[organisation_id],
                    "days_after_wedding": days_after_wedding,
                },
            )
            for organisation_id in sorted(
                set(purged.inbound_texts) | set(purged.delivery_errors),
                key=lambda o: (o is None, o or 0),
            )
        ),
    )
    return purged

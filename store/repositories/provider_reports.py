"""What providers report after a message left us: delivered, failed, undelivered.

Reports arrive late, out of order and more than once. Each reported status
may only move a delivery forward from the states listed for it (a guarded
UPDATE), so a "delivered" arriving after an "undelivered", or a repeat, changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import Channel, DeliveryStatus
from store.models import Campaign, Delivery

# Reported status → the states it may move a delivery out of.
FORWARD_FROM: dict[DeliveryStatus, tuple[DeliveryStatus, ...]] = {
    DeliveryStatus.DELIVERED: (DeliveryStatus.SENT,),
    DeliveryStatus.FAILED: (DeliveryStatus.SENT,),
    DeliveryStatus.UNDELIVERED: (DeliveryStatus.SENT,),
}


@dataclass(frozen=True, slots=True)
class ReportedDelivery:
    id: int
    organisation_id: int
    channel: Channel
    address: str


async def record_report(
    session: AsyncSession,
    *,
    provider: str,
    provider_message_id: str,
    status: DeliveryStatus,
    now: datetime,
    error_code: str | None = None,
    error_message: str | None = None,
) -> ReportedDelivery | None:
    """Move the delivery forward; None when the report changes nothing (unknown
    message, a repeat, or a status behind the one recorded)."""
    allowed = FORWARD_FROM.get(status)
    if allowed is None:
        return None
    values: dict[str, object] = {"status": status, "updated_at": now}
    if status == DeliveryStatus.DELIVERED:
        values["delivered_at"] = now
    else:
        values["error_code"] = error_code
        values["error_message"] = error_message
    row = (
        await session.execute(
            update(Delivery)
            .where(
                Delivery.provider == provider,
                Delivery.provider_message_id == provider_message_id,
                Delivery.status.in_(allowed),
            )
            .values(**values)
            .returning(Delivery.id, Delivery.campaign_id, Delivery.channel, Delivery.address)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        return None
    organisation_id = await session.scalar(
        select(Campaign.organisation_id).where(Campaign.id == row.campaign_id)
    )
    assert organisation_id is not None  # a delivery always belongs to a campaign
    return ReportedDelivery(row.id, organisation_id, Channel(row.channel), row.address)

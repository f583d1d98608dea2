"""Deliveries: one row per (campaign, guest, channel)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import DeliveryStatus
from store.models import Delivery

# Work accepted but not yet handed to a provider.
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count_waiting(self) -> int:
        """Deliveries not yet sent, across all campaigns (served by the status index)."""
        count = await self.session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status.in_(WAITING))
        )
        return count or 0

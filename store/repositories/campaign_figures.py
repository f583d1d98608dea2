"""How far a campaign has got, from its deliveries, in one grouped query."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import DeliveryStatus as S
from store.models import Delivery


@dataclass(frozen=True, slots=True)
class Figures:
    total: int = 0
    sent: int = 0  # accepted by the provider (delivered ones included)
    delivered: int = 0  # confirmed delivered by the provider's report
    failed: int = 0
    suppressed: int = 0
    skipped: int = 0  # skipped at send time, or cancelled
    deferred: int = 0  # held for later (quiet hours, limits, a retry after a failure)
    waiting: int = 0  # not final yet (deferred ones included)

    @property
    def done(self) -> int:
        return self.total - self.waiting

    @property
    def attempted(self) -> int:
        return self.sent + self.failed


async def campaign_figures(session: AsyncSession, campaign_id: int) -> Figures:
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.status)
    )
    counts = {S(status): count for status, count in rows}

    def of(*statuses: S) -> int:
        return sum(counts.get(status, 0) for status in statuses)

    return Figures(
        total=sum(counts.values()),
        sent=of(S.SENT, S.DELIVERED),
        delivered=of(S.DELIVERED),
        failed=of(S.FAILED, S.UNDELIVERED),
        suppressed=of(S.SUPPRESSED),
        skipped=of(S.SKIPPED, S.CANCELLED),
        deferred=of(S.DEFERRED),
        waiting=of(S.PENDING, S.SENDING, S.DEFERRED),
    )

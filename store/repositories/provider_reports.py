"""What providers report after a message left us: delivered, failed, undelivered.

Reports arrive late, out of order and more than once. Each reported status
may only move a delivery forward from the states listed for it (a guarded
UPDATE), so a "delivered" arriving after an "undelivered", or a repeat, changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import Channel, DeliveryStatus
from store.models import Campaign, Delivery, EarlyDeliveryReport

# Reported status → the states it may move a delivery out of.
FORWARD_FROM: dict[DeliveryStatus, tuple[DeliveryStatus, ...]] = {
    DeliveryStatus.DELIVERED: (DeliveryStatus.SENT,),
    DeliveryStatus.FAILED: (DeliveryStatus.SENT,),
    DeliveryStatus.UNDELIVERED: (DeliveryStatus.SENT,),
}


@dataclass(frozen=True, slots=True)
class Report:
    """What a provider said about one of its messages."""

    provider: str
    provider_message_id: str
    status: DeliveryStatus
    error_code: str | None = None
    error_message: str | None = None
    # Replaces FORWARD_FROM for a provider whose reports may follow one
    # another differently (an email may bounce after "delivered").
    from_states: tuple[DeliveryStatus, ...] | None = None


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
    from_states: tuple[DeliveryStatus, ...] | None = None,
) -> ReportedDelivery | None:
    """Move the delivery forward; None when the report changes nothing (unknown
    message, a repeat, or a status behind the one recorded).

    ``from_states`` replaces ``FORWARD_FROM`` for a provider whose reports may
    follow one another differently (an email may bounce after "delivered").
    """
    allowed = FORWARD_FROM.get(status) if from_states is None else from_states
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


async def reported_delivery(
    session: AsyncSession, *, provider: str, provider_message_id: str
) -> ReportedDelivery | None:
    """The delivery a provider's report is about, whatever its status."""
    row = (
        await session.execute(
            select(Delivery.id, Campaign.organisation_id, Delivery.channel, Delivery.address)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(
                Delivery.provider == provider,
                Delivery.provider_message_id == provider_message_id,
            )
            .order_by(Delivery.id)
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return ReportedDelivery(row.id, row.organisation_id, Channel(row.channel), row.address)


async def is_known(session: AsyncSession, provider: str, provider_message_id: str) -> bool:
    """Whether a delivery is recorded with this provider's message id."""
    found = await session.scalar(
        select(Delivery.id)
        .where(Delivery.provider == provider, Delivery.provider_message_id == provider_message_id)
        .limit(1)
    )
    return found is not None


async def keep_early(session: AsyncSession, report: Report, now: datetime) -> None:
    """Keep a report about a message not recorded yet, to apply once it is."""
    session.add(
        EarlyDeliveryReport(
            provider=report.provider,
            provider_message_id=report.provider_message_id,
            status=report.status,
            error_code=report.error_code,
            error_message=report.error_message,
            received_at=now,
        )
    )
    await session.flush()


async def early_reports(session: AsyncSession, limit: int) -> list[EarlyDeliveryReport]:
    """The oldest kept reports, in the order they arrived."""
    rows = await session.scalars(
        select(EarlyDeliveryReport).order_by(EarlyDeliveryReport.id).limit(limit)
    )
    return list(rows)


async def forget_early(session: AsyncSession, ids: list[int], received_before: datetime) -> None:
    """Drop the kept reports ``ids`` (applied) and any received before the cutoff."""
    await session.execute(
        delete(EarlyDeliveryReport).where(
            EarlyDeliveryReport.id.in_(ids) | (EarlyDeliveryReport.received_at < received_before)
        )
    )

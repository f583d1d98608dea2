"""Read-only figures for operators: the queue, a campaign's progress, recent failures,
the last day's traffic, an address's ledger history, and the breakers' last word.

Every query may be limited to one organisation (an operator token with ``org``);
``organisation_id=None`` sees the whole install.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.database import keyring_of
from store.enums import Channel, DeliveryStatus, InboundClass, RsvpStatus
from store.models import (
    Campaign,
    Delivery,
    Event,
    Guest,
    InboundMessage,
    Organisation,
    Suppression,
    Wedding,
)
from store.repositories.campaigns import not_deleted
from store.repositories.deliveries import WAITING
from store.repositories.suppressions import entries_for

FAILED = (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
BREAKER_KINDS = ("breaker.opened", "breaker.closed")
# Ids are 32-bit integer columns; a bigger number is no row, and PostgreSQL
# would refuse to compare it.
MAX_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class QueueFigures:
    counts: dict[tuple[Channel, DeliveryStatus], int]
    oldest_created_at: datetime | None
    expired_leases: int


@dataclass(frozen=True, slots=True)
class Failure:
    delivery_id: int
    campaign_id: int
    organisation_id: int
    guest_id: int | None
    channel: Channel
    status: DeliveryStatus
    provider: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    at: datetime


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    organisation_slug: str
    entry: Suppression


class OperationsQueries:
    def __init__(self, session: AsyncSession, organisation_id: int | None = None) -> None:
        self.session = session
        self.organisation_id = organisation_id

    async def organisation(self, reference: str) -> Organisation | None:
        """By id (all digits) or slug."""
        if reference.isascii() and reference.isdigit():
            number = int(reference)
            return await self.session.get(Organisation, number) if number <= MAX_ID else None
        return await self.session.scalar(select(Organisation).where(Organisation.slug == reference))

    def _deliveries(self, *columns: Any) -> Select[Any]:
        query = select(*columns).select_from(Delivery)
        if self.organisation_id is not None:
            query = query.join(Campaign, Campaign.id == Delivery.campaign_id).where(
                Campaign.organisation_id == self.organisation_id
            )
        return query

    async def queue(self, now: datetime) -> QueueFigures:
        waiting = Delivery.status.in_(WAITING)
        rows = await self.session.execute(
            self._deliveries(Delivery.channel, Delivery.status, func.count())
            .where(waiting)
            .group_by(Delivery.channel, Delivery.status)
        )
        counts = {(Channel(c), DeliveryStatus(s)): n for c, s, n in rows}
        oldest = await self.session.scalar(
            self._deliveries(func.min(Delivery.created_at)).where(waiting)
        )
        expired = await self.session.scalar(
            self._deliveries(func.count()).where(
                Delivery.status == DeliveryStatus.SENDING, Delivery.lease_expires_at < now
            )
        )
        return QueueFigures(counts, _aware(oldest), expired or 0)

    async def campaign_counts(self, campaign_id: int) -> dict[tuple[Channel, DeliveryStatus], int]:
        rows = await self.session.execute(
            select(Delivery.channel, Delivery.status, func.count())
            .where(Delivery.campaign_id == campaign_id)
            .group_by(Delivery.channel, Delivery.status)
        )
        return {(Channel(c), DeliveryStatus(s)): n for c, s, n in rows}

    async def recent_failures(self, limit: int) -> list[Failure]:
        rows = await self.session.execute(
            select(Delivery, Campaign.organisation_id)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(Delivery.status.in_(FAILED), *self._campaign_scope())
            .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
        return [
            Failure(
                d.id,
                d.campaign_id,
                organisation_id,
                d.guest_id,
                Channel(d.channel),
                DeliveryStatus(d.status),
                d.provider,
                d.error_code,
                d.error_message,
                d.attempts,
                d.updated_at,
            )
            for d, organisation_id in rows
        ]

    def _campaign_scope(self) -> list[Any]:
        if self.organisation_id is None:
            return []
        return [Campaign.organisation_id == self.organisation_id]

    async def traffic(self, since: datetime) -> dict[Channel, dict[str, int]]:
        """Per channel: handed to the provider, confirmed delivered, and failed since ``since``."""
        delivered_at = func.coalesce(Delivery.delivered_at, Delivery.updated_at)
        figures: dict[Channel, dict[str, int]] = {
            channel: {"sent": 0, "delivered": 0, "failed": 0} for channel in Channel
        }
        for name, condition in (
            ("sent", Delivery.sent_at >= since),
            ("delivered", and_(Delivery.status == DeliveryStatus.DELIVERED, delivered_at >= since)),
            ("failed", and_(Delivery.status.in_(FAILED), Delivery.updated_at >= since)),
        ):
            rows = await self.session.execute(
                self._deliveries(Delivery.channel, func.count())
                .where(condition)
                .group_by(Delivery.channel)
            )
            for channel, count in rows:
                figures[Channel(channel)][name] = count
        return figures

    async def opt_outs(self, since: datetime) -> list[tuple[Channel, str, int]]:
        """Ledger entries added since ``since``: (channel, reason, how many)."""
        query = select(Suppression.channel, Suppression.reason, func.count()).where(
            Suppression.created_at >= since
        )
        if self.organisation_id is not None:
            query = query.where(Suppression.organisation_id == self.organisation_id)
        rows = await self.session.execute(query.group_by(Suppression.channel, Suppression.reason))
        return [(Channel(channel), str(reason), count) for channel, reason, count in rows]

    async def rsvp_counts(self) -> dict[RsvpStatus, int]:
        query = select(Guest.rsvp_status, func.count()).select_from(Guest)
        if self.organisation_id is not None:
            query = query.join(Wedding, Wedding.id == Guest.wedding_id).where(
                Wedding.organisation_id == self.organisation_id
            )
        rows = await self.session.execute(query.group_by(Guest.rsvp_status))
        return {RsvpStatus(status): count for status, count in rows}

    async def rsvp_replies(self, since: datetime) -> int:
        query = select(func.count()).where(
            InboundMessage.classification == InboundClass.RSVP, InboundMessage.received_at >= since
        )
        if self.organisation_id is not None:
            query = query.where(InboundMessage.organisation_id == self.organisation_id)
        return await self.session.scalar(query) or 0

    async def waiting(self) -> int:
        count = await self.session.scalar(
            self._deliveries(func.count()).where(Delivery.status.in_(WAITING))
        )
        return count or 0

    async def ledger_history(self, channel: Channel, address: str) -> list[LedgerEntry]:
        """Every entry for the address, active or lifted, newest first (by its keyed
        hash: the entries of erased guests, whose address is gone, too)."""
        entries = entries_for(keyring_of(self.session), [(channel, address)], self.organisation_id)
        query = (
            select(Suppression, Organisation.slug)
            .join(Organisation, Organisation.id == Suppression.organisation_id)
            .where(entries)
            .order_by(Suppression.created_at.desc(), Suppression.id.desc())
        )
        rows = await self.session.execute(query)
        return [LedgerEntry(slug, entry) for entry, slug in rows]


async def latest_breaker_changes(
    session: AsyncSession, providers: Iterable[str]
) -> dict[str, Event]:
    """The newest ``breaker.opened`` / ``breaker.closed`` event of each provider key."""
    wanted = list(providers)
    provider = Event.payload["provider"].as_string()
    newest = (
        select(provider.label("provider"), func.max(Event.id).label("id"))
        .where(Event.kind.in_(BREAKER_KINDS), provider.in_(wanted))
        .group_by(provider)
        .subquery()
    )
    events = await session.scalars(select(Event).join(newest, newest.c.id == Event.id))
    return {str(event.payload.get("provider")): event for event in events}


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def campaigns_by_state(session: AsyncSession, organisation_id: int) -> dict[str, int]:
    """How many of the organisation's campaigns are in each state."""
    rows = await session.execute(
        select(Campaign.state, func.count())
        .where(Campaign.organisation_id == organisation_id, not_deleted())
        .group_by(Campaign.state)
    )
    return {str(state): count for state, count in rows}

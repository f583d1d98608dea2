"""Deliveries: one row per (campaign, guest, channel), the source of truth for sending.

Claims are one atomic ``pending → sending`` UPDATE that sets a lease; on
PostgreSQL the candidate rows are picked with ``FOR UPDATE SKIP LOCKED`` so
many workers never wait on (or double-claim) each other's rows, and SQLite's
``BEGIN IMMEDIATE`` serialises claimers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store.enums import CampaignState, Channel, DeliveryStatus
from store.models import Campaign, Delivery, Guest

# The same table under another name, for "does this guest have an email delivery".
Other = aliased(Delivery)

# Work accepted but not yet handed to a provider.
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)
FINAL = (
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.FAILED,
    DeliveryStatus.UNDELIVERED,
    DeliveryStatus.SUPPRESSED,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.CANCELLED,
)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    guest_id: int | None
    channel: Channel
    address: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed delivery."""

    id: int
    status: DeliveryStatus
    provider: str | None = None
    provider_message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    skip_reason: str | None = None
    not_before: datetime | None = None
    # Handed back without being tried: the claim's attempt does not count.
    untried: bool = False
    # When the ledger check that let it go began (Delivery.cleared_at).
    cleared_at: datetime | None = None


# Built once: constructing it per call cost as much CPU as running it (each
# email is recorded on its own, right after SMTP takes it).
_SETTLE = (
    update(Delivery)
    .where(
        Delivery.id == bindparam("o_id"),
        Delivery.status == "sending",
        Delivery.lease_owner == bindparam("o_owner"),
    )
    .values(
        status=bindparam("o_status"),
        provider=func.coalesce(bindparam("o_provider"), Delivery.provider),
        provider_message_id=bindparam("o_message_id"),
        error_code=bindparam("o_code"),
        error_message=bindparam("o_error"),
        skip_reason=bindparam("o_skip"),
        # Kept once set: it tells the campaign report this delivery was
        # held back (quiet hours, a retry's backoff) before it went.
        not_before=func.coalesce(bindparam("o_not_before"), Delivery.not_before),
        sent_at=bindparam("o_sent_at"),
        cleared_at=func.coalesce(bindparam("o_cleared_at"), Delivery.cleared_at),
        attempts=Delivery.attempts - bindparam("o_untried"),
        lease_owner=None,
        lease_expires_at=None,
        updated_at=bindparam("o_now"),
    )
    .execution_options(synchronize_session=False)
)


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count_waiting(self) -> int:
        """Deliveries not yet sent, across all campaigns (served by the status index)."""
        count = await self.session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status.in_(WAITING))
        )
        return count or 0

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk insert (one executemany, no ORM flush per row)."""
        if rows:
            await self.session.execute(insert(Delivery), list(rows))

    async def pending_ids(self, campaign_id: int) -> list[int]:
        return list(
            await self.session.scalars(
                select(Delivery.id)
                .where(Delivery.campaign_id == campaign_id, Delivery.status == "pending")
                .order_by(Delivery.id)
            )
        )

    async def count_due(
        self,
        campaign_id: int,
        first_id: int,
        last_id: int,
        channels: Iterable[Channel],
        now: datetime,
    ) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(*_due(campaign_id, first_id, last_id, channels, now))
        )
        return count or 0

    async def next_due(
        self, campaign_id: int, first_id: int, last_id: int, channels: Iterable[Channel]
    ) -> datetime | None:
        """When the range's next pending delivery on ``channels`` may go (now if it may)."""
        wanted = [c.value for c in channels]
        if not wanted:
            return None
        due_now = func.sum(case((Delivery.not_before.is_(None), 1), else_=0))
        row = (
            await self.session.execute(
                select(func.count(), due_now, func.min(Delivery.not_before)).where(
                    Delivery.campaign_id == campaign_id,
                    Delivery.id.between(first_id, last_id),
                    Delivery.status == "pending",
                    Delivery.channel.in_(wanted),
                )
            )
        ).one()
        count, waiting_for_nothing, earliest = row
        if not count:
            return None
        if waiting_for_nothing:
            return datetime.min.replace(tzinfo=UTC)
        return earliest if isinstance(earliest, datetime) else None

    async def claim(
        self,
        campaign_id: int,
        first_id: int,
        last_id: int,
        *,
        channels: Iterable[Channel],
        limit: int,
        owner: str,
        lease_until: datetime,
        now: datetime,
    ) -> list[Claimed]:
        if limit <= 0:
            return []
        candidates = (
            select(Delivery.id)
            .where(*_due(campaign_id, first_id, last_id, channels, now))
            .order_by(Delivery.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            # A materialised CTE is evaluated once. As an IN (subquery) the
            # planner may re-run it, and with SKIP LOCKED each run finds other
            # rows: the UPDATE would claim more than ``limit``.
            chosen = (
                candidates.with_for_update(skip_locked=True)
                .cte("claimable")
                .prefix_with("MATERIALIZED")
            )
            target = Delivery.id == chosen.c.id
        else:
            # SQLite evaluates an uncorrelated IN (subquery) once, and
            # BEGIN IMMEDIATE already keeps other claimers out.
            target = Delivery.id.in_(candidates.scalar_subquery())
        rows = await self.session.execute(
            update(Delivery)
            .where(target, Delivery.status == "pending")
            .values(
                status=DeliveryStatus.SENDING,
                lease_owner=owner,
                lease_expires_at=lease_until,
                attempts=Delivery.attempts + 1,
                updated_at=now,
            )
            .returning(
                Delivery.id,
                Delivery.guest_id,
                Delivery.channel,
                Delivery.address,
                Delivery.attempts,
            )
            .execution_options(synchronize_session=False)
        )
        return sorted(
            (Claimed(r.id, r.guest_id, Channel(r.channel), r.address, r.attempts) for r in rows),
            key=lambda claimed: claimed.id,
        )

    async def settle(self, owner: str, outcomes: Sequence[Outcome], now: datetime) -> int:
        """Record outcomes of deliveries this owner still holds; returns how many applied.

        Guarded on the lease: a row the reconciler has already settled (its
        lease expired) is left alone.
        """
        return await self.settle_owned([(owner, o, now) for o in outcomes])

    async def settle_owned(self, rows: Sequence[tuple[str, Outcome, datetime]]) -> int:
        """``settle`` for rows of several owners (each with its own moment) at once."""
        if not rows:
            return 0
        # Core executemany on the connection: one statement, many parameter sets.
        connection = await self.session.connection()
        applied = await connection.execute(
            _SETTLE,
            [
                {
                    "o_now": now,
                    "o_owner": owner,
                    "o_id": o.id,
                    "o_status": o.status.value,
                    "o_provider": o.provider,
                    "o_message_id": o.provider_message_id,
                    "o_code": o.error_code,
                    "o_error": o.error_message,
                    "o_skip": o.skip_reason,
                    "o_not_before": o.not_before,
                    "o_sent_at": now if o.status == DeliveryStatus.SENT else None,
                    "o_cleared_at": o.cleared_at,
                    "o_untried": 1 if o.untried else 0,
                }
                for owner, o, now in rows
            ],
        )
        return int(applied.rowcount)

    async def expire_leases(self, owner: str, ids: Sequence[int], now: datetime) -> None:
        """End our lease now on deliveries whose fate only the provider knows."""
        await self.session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(ids), Delivery.status == "sending", Delivery.lease_owner == owner
            )
            .values(lease_expires_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def hold_range(
        self, campaign_id: int, first_id: int, last_id: int, until: datetime, now: datetime
    ) -> None:
        """Pending deliveries of the range are deferred until ``until`` (the tick wakes them)."""
        await self.session.execute(
            update(Delivery)
            .where(
                Delivery.campaign_id == campaign_id,
                Delivery.id.between(first_id, last_id),
                Delivery.status == "pending",
            )
            .values(status=DeliveryStatus.DEFERRED, not_before=until, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def fall_back_to_email(
        self, campaign_id: int, first_id: int, last_id: int, now: datetime
    ) -> list[int]:
        """Pending texts of the range become emails, for guests who have an address and no
        email in this campaign yet — or one skipped because they prefer texts, which is
        taken up again. Returns the ids of the emails to send."""
        revived = await self._revive_preferred_emails(campaign_id, first_id, last_id, now)
        texts = (
            await self.session.execute(
                select(Delivery.id, Delivery.guest_id, Guest.email)
                .join(Guest, Guest.id == Delivery.guest_id)
                .where(
                    Delivery.campaign_id == campaign_id,
                    Delivery.id.between(first_id, last_id),
                    Delivery.channel == Channel.SMS,
                    Delivery.status == "pending",
                    Guest.email.is_not(None),
                    ~exists().where(
                        Other.campaign_id == campaign_id,
                        Other.guest_id == Delivery.guest_id,
                        Other.channel == Channel.EMAIL,
                    ),
                )
            )
        ).all()
        if not texts:
            return revived
        await self.session.execute(
            update(Delivery)
            .where(Delivery.id.in_([row.id for row in texts]), Delivery.status == "pending")
            .values(status=DeliveryStatus.SKIPPED, skip_reason="fell_back_to_email", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        created = await self.session.execute(
            insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True),
            [
                {
                    "campaign_id": campaign_id,
                    "guest_id": row.guest_id,
                    "channel": Channel.EMAIL,
                    "address": row.email,
                    "status": DeliveryStatus.PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for row in texts
            ],
        )
        return [*revived, *created.scalars()]

    async def _revive_preferred_emails(
        self, campaign_id: int, first_id: int, last_id: int, now: datetime
    ) -> list[int]:
        """Emails skipped for guests who prefer texts, whose pending text is in the range."""
        pairs = (
            await self.session.execute(
                select(Delivery.id, Other.id)
                .join(
                    Other,
                    (Other.campaign_id == Delivery.campaign_id)
                    & (Other.guest_id == Delivery.guest_id)
                    & (Other.channel == Channel.EMAIL)
                    & (Other.status == DeliveryStatus.SKIPPED)
                    & (Other.skip_reason == "prefers_other_channel"),
                )
                .where(
                    Delivery.campaign_id == campaign_id,
                    Delivery.id.between(first_id, last_id),
                    Delivery.channel == Channel.SMS,
                    Delivery.status == "pending",
                )
            )
        ).all()
        if not pairs:
            return []
        for ids, values in (
            (
                [text for text, _ in pairs],
                {"status": DeliveryStatus.SKIPPED, "skip_reason": "fell_back_to_email"},
            ),
            (
                [email for _, email in pairs],
                {"status": DeliveryStatus.PENDING, "skip_reason": None},
            ),
        ):
            await self.session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids))
                .values(updated_at=now, **values)
                .execution_options(synchronize_session=False)
            )
        return [email for _, email in pairs]

    async def cancel_waiting(self, campaign_id: int, now: datetime) -> int:
        """Every delivery not yet claimed becomes cancelled (in-flight ones finish)."""
        result = await self.session.execute(
            update(Delivery)
            .where(
                Delivery.campaign_id == campaign_id,
                Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.DEFERRED]),
            )
            .values(status=DeliveryStatus.CANCELLED, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def discard_unsent(self, campaign_id: int) -> int:
        """Forget the rows an approval wrote, when an edit voids it before any was sent.

        Only for a campaign that never started (scheduled, not sending): the
        next approval writes them again from the changed content."""
        result = await self.session.execute(
            delete(Delivery)
            .where(
                Delivery.campaign_id == campaign_id,
                Delivery.status.in_(
                    [
                        DeliveryStatus.PENDING,
                        DeliveryStatus.SUPPRESSED,
                        DeliveryStatus.SKIPPED,
                        DeliveryStatus.CANCELLED,
                    ]
                ),
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def retry_failed(self, campaign_id: int, now: datetime) -> int:
        result = await self.session.execute(
            update(Delivery)
            .where(
                Delivery.campaign_id == campaign_id,
                Delivery.status.in_([DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED]),
            )
            .values(
                status=DeliveryStatus.PENDING,
                attempts=0,
                error_code=None,
                error_message=None,
                not_before=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def expired_leases(self, before: datetime, limit: int = 1000) -> list[Delivery]:
        """Deliveries still claimed whose lease ended before ``before``."""
        rows = await self.session.scalars(
            select(Delivery)
            .where(Delivery.status == "sending", Delivery.lease_expires_at < before)
            .order_by(Delivery.id)
            .limit(limit)
        )
        return list(rows)

    async def wake_deferred(self, now: datetime) -> list[tuple[int, int]]:
        """Deferred deliveries whose time has come go back to pending: (campaign, id)."""
        rows = await self.session.execute(
            update(Delivery)
            .where(Delivery.status == "deferred", Delivery.not_before <= now)
            .values(status=DeliveryStatus.PENDING, updated_at=now)
            .returning(Delivery.campaign_id, Delivery.id)
            .execution_options(synchronize_session=False)
        )
        return [(row.campaign_id, row.id) for row in rows]

    async def stale_pending(self, before: datetime, limit: int = 20000) -> list[tuple[int, int]]:
        """Pending rows untouched since ``before`` of campaigns that are sending: their
        broker message may be gone. A scheduled, paused or unapproved campaign's rows
        wait on purpose; starting or resuming it enqueues them."""
        rows = await self.session.execute(
            select(Delivery.campaign_id, Delivery.id)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(
                Campaign.state == CampaignState.SENDING,
                Delivery.status == "pending",
                Delivery.updated_at < before,
                or_(Delivery.not_before.is_(None), Delivery.not_before <= before),
            )
            .order_by(Delivery.campaign_id, Delivery.id)
            .limit(limit)
        )
        return [(row.campaign_id, row.id) for row in rows]

    async def status_counts(self, campaign_id: int) -> dict[DeliveryStatus, int]:
        rows = await self.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.campaign_id == campaign_id)
            .group_by(Delivery.status)
        )
        return {DeliveryStatus(status): count for status, count in rows}

    async def any_waiting(self, campaign_id: int) -> bool:
        found = await self.session.scalar(
            select(Delivery.id)
            .where(Delivery.campaign_id == campaign_id, Delivery.status.in_(WAITING))
            .limit(1)
        )
        return found is not None


def _due(
    campaign_id: int, first_id: int, last_id: int, channels: Iterable[Channel], now: datetime
) -> list[Any]:
    return [
        Delivery.campaign_id == campaign_id,
        Delivery.id.between(first_id, last_id),
        Delivery.status == "pending",
        Delivery.channel.in_([c.value for c in channels]),
        or_(Delivery.not_before.is_(None), Delivery.not_before <= now),
    ]

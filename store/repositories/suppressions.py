"""The suppression ledger: add, look up, and lift (only by the guest, only their own)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import Actor, AuditRecord
from store.enums import Channel, SuppressionReason
from store.models import Suppression
from store.models.base import utcnow

# What a guest's own START / resubscribe may lift. Bounces, complaints and
# invalid numbers are facts about the address, not wishes of the guest.
GUEST_LIFTABLE = frozenset({SuppressionReason.STOP, SuppressionReason.UNSUBSCRIBE})

_ACTIVE = Suppression.lifted_at.is_(None)


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An address to suppress, and who asked."""

    actor: Actor
    organisation_id: int
    channel: Channel
    address: str
    reason: SuppressionReason
    source: str
    detail: str | None = None


class SuppressionLedger:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def suppress(
        self,
        actor: Actor,
        *,
        organisation_id: int,
        channel: Channel,
        address: str,
        reason: SuppressionReason,
        source: str,
        detail: str | None = None,
    ) -> bool:
        """Add an active entry; returns False when the address was already suppressed."""
        entry = NewEntry(actor, organisation_id, channel, address, reason, source, detail)
        return bool(await self.suppress_all([entry]))

    async def suppress_all(self, entries: Sequence[NewEntry]) -> set[tuple[int, Channel, str]]:
        """Add active entries, each audited, in two statements; returns the (organisation
        id, channel, address) keys that were not suppressed already.

        Uses the dialect's INSERT … ON CONFLICT DO NOTHING on the partial unique
        index, so two STOPs racing on PostgreSQL give one entry and no error.
        """
        now = utcnow()
        by_key: dict[tuple[int, Channel, str], NewEntry] = {}
        for entry in entries:
            by_key.setdefault((entry.organisation_id, entry.channel, entry.address), entry)
        if not by_key:
            return set()
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = cast(Table, Suppression.__table__)
        statement = (
            insert(table)
            .on_conflict_do_nothing(
                index_elements=["organisation_id", "channel", "address"],
                index_where=table.c.lifted_at.is_(None),
            )
            .returning(table.c.id, table.c.organisation_id, table.c.channel, table.c.address)
        )
        rows = [
            {
                "organisation_id": e.organisation_id,
                "channel": e.channel,
                "address": e.address,
                "reason": e.reason,
                "source": e.source,
                "detail": e.detail,
                "created_at": now,
            }
            for e in by_key.values()
        ]
        added: dict[tuple[int, Channel, str], int] = {
            (organisation_id, Channel(channel), address): suppression_id
            for suppression_id, organisation_id, channel, address in await self.session.execute(
                statement, rows
            )
        }
        await audit.record_each(
            self.session,
            (
                (
                    entry.actor,
                    AuditRecord(
                        entry.organisation_id,
                        "suppression.added",
                        "suppression",
                        added[key],
                        after={
                            "channel": entry.channel.value,
                            "address": entry.address,
                            "reason": entry.reason.value,
                            "source": entry.source,
                        },
                    ),
                )
                for key, entry in by_key.items()
                if key in added
            ),
        )
        return set(added)

    async def active(
        self, organisation_id: int, channel: Channel, address: str
    ) -> Suppression | None:
        return await self.session.scalar(
            select(Suppression).where(
                Suppression.organisation_id == organisation_id,
                Suppression.channel == channel,
                Suppression.address == address,
                _ACTIVE,
            )
        )

    async def active_among(
        self, organisation_id: int, addresses: Iterable[tuple[Channel, str]]
    ) -> dict[tuple[Channel, str], str]:
        """Which of these (channel, address) pairs are suppressed, with the reason."""
        wanted = set(addresses)
        found: dict[tuple[Channel, str], str] = {}
        unique = sorted({address for _, address in wanted})
        for start in range(0, len(unique), 500):
            rows = await self.session.execute(
                select(Suppression.channel, Suppression.address, Suppression.reason).where(
                    Suppression.organisation_id == organisation_id,
                    Suppression.address.in_(unique[start : start + 500]),
                    _ACTIVE,
                )
            )
            for channel, address, reason in rows:
                key = (Channel(channel), address)
                if key in wanted:
                    found[key] = SuppressionReason(reason).value
        return found

    async def active_addresses(self, organisation_id: int) -> dict[tuple[Channel, str], str]:
        """Every active (channel, address) of an organisation with its reason."""
        rows = await self.session.execute(
            select(Suppression.channel, Suppression.address, Suppression.reason).where(
                Suppression.organisation_id == organisation_id, _ACTIVE
            )
        )
        return {(Channel(r.channel), r.address): SuppressionReason(r.reason).value for r in rows}

    async def lift(
        self,
        actor: Actor,
        *,
        organisation_id: int,
        channel: Channel,
        address: str,
        source: str,
        reasons: Collection[SuppressionReason] = GUEST_LIFTABLE,
    ) -> bool:
        """Lift an active entry whose reason is one of ``reasons``; the entry stays as history."""
        suppression_id = await self.session.scalar(
            update(Suppression)
            .where(
                Suppression.organisation_id == organisation_id,
                Suppression.channel == channel,
                Suppression.address == address,
                Suppression.reason.in_(list(reasons)),
                _ACTIVE,
            )
            .values(lifted_at=utcnow(), lifted_source=source)
            .returning(Suppression.id)
        )
        if suppression_id is None:
            return False
        await audit.record_one(
            self.session,
            actor,
            AuditRecord(
                organisation_id,
                "suppression.lifted",
                "suppression",
                suppression_id,
                after={"channel": channel.value, "address": address, "source": source},
            ),
        )
        return True

    async def count_by_reason(self, organisation_id: int) -> dict[str, int]:
        rows = await self.session.execute(
            select(Suppression.reason, func.count())
            .where(Suppression.organisation_id == organisation_id, _ACTIVE)
            .group_by(Suppression.reason)
        )
        return {SuppressionReason(reason).value: count for reason, count in rows}


async def ledger_page(
    session: AsyncSession,
    organisation_id: int,
    channel: Channel | None,
    search: str,
    limit: int,
) -> tuple[list[Suppression], int]:
    """Active entries, newest first (at most ``limit``), and how many match in all.

    ``search`` is part of an address, matched without regard to case.
    """
    conditions = [Suppression.organisation_id == organisation_id, _ACTIVE]
    if channel is not None:
        conditions.append(Suppression.channel == channel)
    if search:
        escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(func.lower(Suppression.address).like(f"%{escaped}%", escape="\\"))
    total = await session.scalar(select(func.count()).select_from(Suppression).where(*conditions))
    rows = await session.scalars(
        select(Suppression)
        .where(*conditions)
        .order_by(Suppression.created_at.desc(), Suppression.id.desc())
        .limit(limit)
    )
    return list(rows), total or 0

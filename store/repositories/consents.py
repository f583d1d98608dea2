"""Consent records: evidence that a guest agreed (or withdrew agreement) to messages on a
channel. The latest record of a guest and channel is what holds; older ones stay as
history (a guest's data export shows them all)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import Actor, AuditRecord
from store.enums import Channel
from store.models import ConsentRecord, Guest
from store.models.base import utcnow

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One consent to record: whose, on which channel, granted or withdrawn, how we
    know (``source``: import, import_confirmation, sms_reply, …), the words the person
    agreed to or confirmed (``text_shown``) and who recorded it."""

    guest_id: int
    channel: Channel
    granted: bool
    source: str
    text_shown: str
    recorded_by: str


async def consenting_guest_ids(
    session: AsyncSession,
    wedding_id: int,
    channel: Channel,
    guest_ids: Collection[int] | None = None,
) -> frozenset[int]:
    """Guests of the wedding (or those of ``guest_ids``) whose latest consent record on
    ``channel`` grants it."""
    records = (
        select(ConsentRecord.guest_id, func.max(ConsentRecord.id).label("record_id"))
        .join(Guest, Guest.id == ConsentRecord.guest_id)
        .where(Guest.wedding_id == wedding_id, ConsentRecord.channel == channel)
    )
    if guest_ids is not None:
        records = records.where(ConsentRecord.guest_id.in_(list(guest_ids)))
    latest = records.group_by(ConsentRecord.guest_id).subquery()
    rows = await session.scalars(
        select(ConsentRecord.guest_id)
        .join(latest, ConsentRecord.id == latest.c.record_id)
        .where(ConsentRecord.granted.is_(True))
    )
    return frozenset(guest_id for guest_id in rows if guest_id is not None)


async def latest_consents(
    session: AsyncSession, guest_ids: Collection[int], channel: Channel
) -> dict[int, bool]:
    """Whether each guest's latest record on ``channel`` grants it; guests with no
    record are absent."""
    found: dict[int, bool] = {}
    unique = sorted(set(guest_ids))
    for start in range(0, len(unique), _CHUNK):
        latest = (
            select(func.max(ConsentRecord.id))
            .where(
                ConsentRecord.channel == channel,
                ConsentRecord.guest_id.in_(unique[start : start + _CHUNK]),
            )
            .group_by(ConsentRecord.guest_id)
        )
        rows = await session.execute(
            select(ConsentRecord.guest_id, ConsentRecord.granted).where(
                ConsentRecord.id.in_(latest)
            )
        )
        found.update({guest_id: granted for guest_id, granted in rows if guest_id is not None})
    return found


async def record_consents(
    session: AsyncSession, actor: Actor, organisation_id: int, entries: Sequence[ConsentEntry]
) -> int:
    """Add the records, each with its audit row (which names no text: the record is the
    evidence); returns how many."""
    if not entries:
        return 0
    now = utcnow()
    await session.execute(
        insert(cast(Table, ConsentRecord.__table__)),
        [
            {
                "organisation_id": organisation_id,
                "guest_id": entry.guest_id,
                "channel": entry.channel,
                "granted": entry.granted,
                "source": entry.source,
                "text_shown": entry.text_shown,
                "recorded_by": entry.recorded_by,
                "created_at": now,
            }
            for entry in entries
        ],
    )
    await audit.record(
        session,
        actor,
        (
            AuditRecord(
                organisation_id,
                "consent.recorded",
                "guest",
                entry.guest_id,
                after={
                    "channel": entry.channel.value,
                    "granted": entry.granted,
                    "source": entry.source,
                },
            )
            for entry in entries
        ),
    )
    return len(entries)


async def consent_history(session: AsyncSession, guest_ids: Collection[int]) -> list[ConsentRecord]:
    """Every consent record of these guests, oldest first."""
    if not guest_ids:
        return []
    rows = await session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.guest_id.in_(list(guest_ids)))
        .order_by(ConsentRecord.created_at, ConsentRecord.id)
    )
    return list(rows)

"""The suppression ledger: add, look up, and lift (only by the guest, only their own).

Every look-up matches on the keyed hash of the normalised address
(``Keyring.index``, the keyring reached through the session's Database), never
on the address itself: an erased guest's entry keeps only the hash, and must
still stop messages to that address when it comes back in a later import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Executable, Table, and_, false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import ScalarSelect
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType
from sqlalchemy.types import Boolean

from store import audit, prebuilt
from store.addresses import AddressError, normalise_email, normalise_phone
from store.audit import Actor, AuditRecord
from store.database import keyring_of
from store.enums import Channel, SuppressionReason
from store.keyring import Keyring
from store.models import Organisation, Suppression
from store.models.base import utcnow

# What a guest's own START / resubscribe may lift. Bounces, complaints and
# invalid numbers are facts about the address, not wishes of the guest.
GUEST_LIFTABLE = frozenset({SuppressionReason.STOP, SuppressionReason.UNSUBSCRIBE})
# The blind-index kind of each channel's addresses: the same kinds as the
# guests' own indexes, so one hash names one address everywhere.
INDEX_KIND = {Channel.EMAIL: "email", Channel.SMS: "phone"}
# Above this many addresses one query reads the organisation's whole active
# ledger (an index range) rather than a long IN list.
_IN_LIST_LIMIT = 500

_ACTIVE = Suppression.lifted_at.is_(None)
_LIFTED = Suppression.lifted_at.is_not(None)
# For ``entries_for``: the organisations, as a table of their own (never correlated
# with an organisations table the caller's query joins).
_ORGANISATIONS = cast(Table, Organisation.__table__).alias("ledger_organisations")
_SUPPRESSIONS = cast(Table, Suppression.__table__)


def address_hash(keyring: Keyring, channel: Channel, address: str) -> str:
    """The ledger's key for a normalised address (E.164 or lower-cased email)."""
    return keyring.index(INDEX_KIND[channel], address)


def entries_for(
    keyring: Keyring,
    addresses: Iterable[tuple[Channel, str]],
    organisation_id: int | None = None,
) -> ColumnElement[bool]:
    """Every entry, active or lifted, of these (channel, normalised address) pairs:
    in one organisation, or (None) in all — found by hash, so an erased guest's too.

    Active entries are found by the unique index, lifted ones by the partial index
    of lifted entries (the same columns). Each side names its state, so each can
    use its index; and the organisation is matched through a subquery
    (``_AmongOrganisations``), not an equality both sides share, which SQLite's
    planner (no statistics) would otherwise take to the (organisation,
    channel) prefix of the address index: a scan of all the organisation's
    entries on that channel.
    """
    organisations = select(_ORGANISATIONS.c.id)
    if organisation_id is not None:
        organisations = organisations.where(_ORGANISATIONS.c.id == organisation_id)
    among = _AmongOrganisations(organisations.scalar_subquery())
    return or_(
        false(),
        *(
            and_(
                state,
                among,
                Suppression.channel == channel,
                Suppression.address_hash == address_hash(keyring, channel, address),
            )
            for channel, address in addresses
            for state in (_ACTIVE, _LIFTED)
        ),
    )


class _AmongOrganisations(ColumnElement[bool]):
    """``suppressions.organisation_id`` is one of the subquery's ids, in the form each
    database's planner takes to the leading column of an index: SQLite's
    ``IN (SELECT …)``; PostgreSQL's ``= ANY (ARRAY(SELECT …))`` (an ``IN`` subquery
    under an OR it only filters with, after a scan of the table)."""

    inherit_cache = True
    type = Boolean()
    # A condition in itself (SQLite has no booleans: without this, "… = 1").
    _is_implicitly_boolean = True
    # SQLAlchemy's own form (its cache key), a list it declares on the instance.
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012
        ("ids", InternalTraversal.dp_clauseelement)
    ]

    def __init__(self, ids: ScalarSelect[int]) -> None:
        self.ids = ids


@compiles(_AmongOrganisations)
def _among_as_in(element: _AmongOrganisations, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(_SUPPRESSIONS.c.organisation_id, **kw)
    return f"{column} IN {compiler.process(element.ids, **kw)}"


@compiles(_AmongOrganisations, "postgresql")
def _among_as_any(element: _AmongOrganisations, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(_SUPPRESSIONS.c.organisation_id, **kw)
    return f"{column} = ANY (ARRAY{compiler.process(element.ids, **kw)})"


# Not frozen: one is built for each guest's reply on the webhooks' hot path, and a
# frozen dataclass's __init__ sets every field through object.__setattr__ (~4x slower).
@dataclass(slots=True)
class NewEntry:
    """An address to suppress, and who asked."""

    actor: Actor
    organisation_id: int
    channel: Channel
    address: str
    reason: SuppressionReason
    source: str
    detail: str | None = None


def _suppress(dialect: str) -> Executable:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, Suppression.__table__)
    return (
        insert(table)
        .on_conflict_do_nothing(
            index_elements=["organisation_id", "channel", "address_hash"],
            index_where=table.c.lifted_at.is_(None),
        )
        .returning(table.c.id, table.c.organisation_id, table.c.channel, table.c.address_hash)
    )


# Built once: suppress_all runs in every batch of guests' replies.
_SUPPRESS = prebuilt.PerDialect(_suppress)


# An active entry as read: (channel, address hash, reason).
ActiveEntry = tuple[Channel, str, SuppressionReason]


def match_active(
    keyring: Keyring,
    entries: Iterable[ActiveEntry],
    addresses: Iterable[tuple[Channel, str]],
) -> dict[tuple[Channel, str], str]:
    """``active_among`` over entries already read (``SuppressionLedger.active_entries``):
    no I/O, so it can run in a worker thread."""
    wanted = {
        (channel, address_hash(keyring, channel, address)): (channel, address)
        for channel, address in set(addresses)
    }
    found: dict[tuple[Channel, str], str] = {}
    for channel, hashed, reason in entries:
        pair = wanted.get((channel, hashed))
        if pair is not None:
            found[pair] = reason.value
    return found


class SuppressionLedger:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def hash_of(self, channel: Channel, address: str) -> str:
        return address_hash(keyring_of(self.session), channel, address)

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
        index, so two STOPs racing on PostgreSQL give one entry and no error —
        and a STOP from an erased guest's address finds their entry in force.
        """
        now = utcnow()
        by_hash: dict[tuple[int, Channel, str], NewEntry] = {}
        for entry in entries:
            key = (entry.organisation_id, entry.channel, self.hash_of(entry.channel, entry.address))
            by_hash.setdefault(key, entry)
        if not by_hash:
            return set()
        rows = [
            {
                "organisation_id": organisation_id,
                "channel": channel,
                "address": e.address,
                "address_hash": hashed,
                "reason": e.reason,
                "source": e.source,
                "detail": e.detail,
                "created_at": now,
            }
            for (organisation_id, channel, hashed), e in by_hash.items()
        ]
        added: dict[tuple[int, Channel, str], int] = {
            (organisation_id, Channel(channel), hashed): suppression_id
            for suppression_id, organisation_id, channel, hashed in await prebuilt.run(
                self.session, _SUPPRESS, rows
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
                        # No address: the audit log outlives a guest's erasure.
                        after={
                            "channel": entry.channel.value,
                            "reason": entry.reason.value,
                            "source": entry.source,
                        },
                    ),
                )
                for key, entry in by_hash.items()
                if key in added
            ),
        )
        return {(e.organisation_id, e.channel, e.address) for k, e in by_hash.items() if k in added}

    async def active(
        self, organisation_id: int, channel: Channel, address: str
    ) -> Suppression | None:
        return await self.session.scalar(
            select(Suppression).where(
                Suppression.organisation_id == organisation_id,
                Suppression.channel == channel,
                Suppression.address_hash == self.hash_of(channel, address),
                _ACTIVE,
            )
        )

    async def active_among(
        self, organisation_id: int, addresses: Iterable[tuple[Channel, str]]
    ) -> dict[tuple[Channel, str], str]:
        """Which of these (channel, address) pairs are suppressed, with the reason.

        One query: by the hashes asked for, or — for more than a few hundred
        addresses (a preview of a whole wedding) — the organisation's active
        entries, matched here.
        """
        wanted: dict[tuple[Channel, str], tuple[Channel, str]] = {
            (channel, self.hash_of(channel, address)): (channel, address)
            for channel, address in set(addresses)
        }
        if not wanted:
            return {}
        query = select(Suppression.channel, Suppression.address_hash, Suppression.reason).where(
            Suppression.organisation_id == organisation_id, _ACTIVE
        )
        hashes = sorted({hashed for _, hashed in wanted})
        if len(hashes) <= _IN_LIST_LIMIT:
            query = query.where(Suppression.address_hash.in_(hashes))
        found: dict[tuple[Channel, str], str] = {}
        for channel, hashed, reason in await self.session.execute(query):
            pair = wanted.get((Channel(channel), hashed))
            if pair is not None:
                found[pair] = SuppressionReason(reason).value
        return found

    async def active_entries(self, organisation_id: int) -> tuple[ActiveEntry, ...]:
        """The organisation's active entries, oldest first, as plain values: a preview
        of a whole wedding reads them all once, and compares them to decide whether it
        has already been computed from exactly these."""
        rows = await self.session.execute(
            select(Suppression.channel, Suppression.address_hash, Suppression.reason)
            .where(Suppression.organisation_id == organisation_id, _ACTIVE)
            .order_by(Suppression.id)
        )
        return tuple((Channel(c), hashed, SuppressionReason(r)) for c, hashed, r in rows)

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
                Suppression.address_hash == self.hash_of(channel, address),
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
                after={"channel": channel.value, "source": source},
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
    default_country: str = "US",
) -> tuple[list[Suppression], int]:
    """Active entries, newest first (at most ``limit``), and how many match in all.

    ``search`` is a whole address — matched by its keyed hash, so an erased
    guest's entry is found too — or part of one, matched without regard to case.
    """
    conditions = [Suppression.organisation_id == organisation_id, _ACTIVE]
    if channel is not None:
        conditions.append(Suppression.channel == channel)
    whole = _whole_address(search, channel, default_country)
    if whole:
        keyring = keyring_of(session)
        conditions.append(
            or_(
                *(
                    and_(
                        Suppression.channel == each,
                        Suppression.address_hash == address_hash(keyring, each, address),
                    )
                    for each, address in whole
                )
            )
        )
    elif search:
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


def _whole_address(
    search: str, channel: Channel | None, default_country: str
) -> list[tuple[Channel, str]]:
    """``search`` read as a whole email address or phone number, on the channels asked."""
    found: list[tuple[Channel, str]] = []
    if not search.strip():
        return found
    if channel in (None, Channel.EMAIL) and "@" in search:
        with contextlib.suppress(AddressError):
            found.append((Channel.EMAIL, normalise_email(search)))
    if channel in (None, Channel.SMS) and "@" not in search:
        with contextlib.suppress(AddressError):
            found.append((Channel.SMS, normalise_phone(search, default_country)))
    return found

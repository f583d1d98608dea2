"""Guests' messages as they arrive: recorded once, routed to an organisation and a guest."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import JSON, Executable, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit, prebuilt
from store.audit import Actor, AuditRecord
from store.database import keyring_of
from store.enums import Channel, InboundClass, RsvpStatus
from store.models import Delivery, Event, Guest, InboundMessage, Organisation, Wedding
from store.models.base import utcnow

_NEVER = datetime.min.replace(tzinfo=UTC)


# Not frozen: one is built for each guest's reply on the webhooks' hot path, and a
# frozen dataclass's __init__ sets every field through object.__setattr__ (~4x slower).
@dataclass(slots=True)
class ArrivedMessage:
    channel: Channel
    provider: str  # twilio, sendgrid, resend, postmark
    provider_message_id: str
    from_address: str  # normalised: E.164 or a lower-cased email
    to_address: str
    body: str


# Not frozen: one is built for each guest's reply on the webhooks' hot path, and a
# frozen dataclass's __init__ sets every field through object.__setattr__ (~4x slower).
@dataclass(slots=True)
class ArrivalRow:
    """A message to store, with what we know of it."""

    message: ArrivedMessage
    organisation_id: int | None
    guest_id: int | None = None
    classification: InboundClass | None = None


async def record_arrival(
    session: AsyncSession,
    organisation_id: int | None,
    message: ArrivedMessage,
    *,
    guest_id: int | None = None,
    classification: InboundClass | None = None,
) -> int | None:
    """Store the message; None when this provider id was seen before (a retried webhook)."""
    stored = await record_arrivals(
        session, [ArrivalRow(message, organisation_id, guest_id, classification)]
    )
    return stored.get((message.provider, message.provider_message_id))


async def record_arrivals(
    session: AsyncSession, rows: Sequence[ArrivalRow]
) -> dict[tuple[str, str], int]:
    """Store messages in one statement; returns the new rows' ids by (provider, provider id).

    INSERT … ON CONFLICT DO NOTHING on (provider, provider_message_id): a
    retried webhook, even one racing the first delivery, finds no id here and
    so has no effect. Within ``rows`` the first of a provider id wins.
    """
    now = utcnow()
    values: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        message = row.message
        values.setdefault(
            (message.provider, message.provider_message_id),
            {
                "organisation_id": row.organisation_id,
                "guest_id": row.guest_id,
                "classification": row.classification,
                "channel": message.channel,
                "provider": message.provider,
                "provider_message_id": message.provider_message_id,
                "from_address": message.from_address,
                "to_address": message.to_address,
                "body": message.body,
                "received_at": now,
            },
        )
    if not values:
        return {}
    # Parameters apart from the statement (executemany): one compiled form,
    # cached, which SQLAlchemy sends as one multi-row INSERT … RETURNING.
    result = await prebuilt.run(session, _RECORD_ARRIVALS, list(values.values()))
    return {(provider, sid): id_ for id_, provider, sid in result}


def _record_arrivals(dialect: str) -> Executable:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, InboundMessage.__table__)
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["provider", "provider_message_id"])
        .returning(table.c.id, table.c.provider, table.c.provider_message_id)
    )


_RECORD_ARRIVALS = prebuilt.PerDialect(_record_arrivals)


async def organisation_for_sms(
    session: AsyncSession, to_number: str, messaging_service_sid: str | None
) -> Organisation | None:
    """The organisation whose number or Messaging Service received the text; in an
    install with one organisation, that one."""
    condition = Organisation.sms_number == to_number
    if messaging_service_sid:
        condition = condition | (Organisation.messaging_service_sid == messaging_service_sid)
    routed = await session.scalar(select(Organisation).where(condition).limit(1))
    if routed is not None:
        return routed
    return await only_organisation(session)


async def only_organisation(session: AsyncSession) -> Organisation | None:
    two = list(await session.scalars(select(Organisation).limit(2)))
    return two[0] if len(two) == 1 else None


async def guest_replying(
    session: AsyncSession, organisation_id: int, channel: Channel, address: str
) -> Guest | None:
    """Which of the organisation's guests with this address the reply is from."""
    found = await repliers(session, channel, [(organisation_id, address)])
    replier = found.get((organisation_id, address))
    return await session.get(Guest, replier.guest_id) if replier else None


@dataclass(frozen=True, slots=True)
class Replier:
    """The guest a reply is from, as acting on it needs them: no personal data is read
    (nothing to decrypt), only what an RSVP, its answer and the planners' note use."""

    guest_id: int
    wedding_id: int
    rsvp_status: RsvpStatus
    party_size: int
    couple_names: str


async def repliers(
    session: AsyncSession, channel: Channel, senders: Collection[tuple[int, str]]
) -> dict[tuple[int, str], Replier]:
    """For each (organisation id, address), the guest the reply is from.

    Several guests may share a number (a household) or appear in several
    weddings: the one we last sent something to on this channel is the one
    answering; otherwise the guest of the wedding that comes soonest. One
    query for all senders (replies are the webhooks' hot path); the few
    candidates per address are ranked here.
    """
    if not senders:
        return {}
    keyring = keyring_of(session)
    kind = "phone" if channel == Channel.SMS else "email"
    address_of = {keyring.index(kind, address): address for _, address in senders}
    rows = await prebuilt.run(
        session,
        _REPLIERS[channel],
        [
            {
                "channel": channel,
                "organisations": list({organisation for organisation, _ in senders}),
                "indexes": list(address_of),
                "addresses": list(set(address_of.values())),
            }
        ],
    )
    today = date.today()
    # Weddings still to come, the nearest first; past ones after; then the
    # latest messaged first (stable: a second sort keeps the first's order for ties).
    # (Columns by position: id 0, wedding date 6, last messaged 8.)
    rows.sort(key=lambda r: (r[6] < today, r[6], r[0]))
    rows.sort(key=lambda r: (r[8] is not None, r[8] or _NEVER), reverse=True)
    chosen: dict[tuple[int, str], Replier] = {}
    wanted = set(senders)
    for guest_id, wedding_id, status, size, index, organisation_id, _, couple, _ in rows:
        key = (organisation_id, address_of[index])
        if key in wanted and key not in chosen:
            chosen[key] = Replier(guest_id, wedding_id, status, size, couple)
    return chosen


def _repliers(channel: Channel, dialect: str) -> Executable:
    """The candidates of ``repliers``, built once per channel and dialect: the lists are
    bound as parameters, so no statement is assembled (and no cache key computed) per
    batch. PostgreSQL gets them as IN lists SQLAlchemy expands; SQLite as one JSON
    array each, read by ``json_each`` — a statement without expanding lists, which
    ``prebuilt`` runs in one trip without SQLAlchemy's execution layer."""

    def among(column: Any, name: str) -> Any:
        if dialect != "sqlite":
            return column.in_(bindparam(name, expanding=True))
        listed = func.json_each(bindparam(name, type_=JSON)).table_valued("value")
        return column.in_(select(listed.c.value))

    # Addresses are encrypted: guests are found by their blind index (computed by
    # the caller; the column type keeps a value that is already an index), and
    # what we last sent them is compared with the senders' addresses, which are
    # the guests' own.
    guests, weddings = cast(Table, Guest.__table__), cast(Table, Wedding.__table__)
    deliveries = cast(Table, Delivery.__table__)
    index_column = guests.c.phone_index if channel == Channel.SMS else guests.c.email_index
    last_messaged = (
        select(func.max(deliveries.c.sent_at))
        .where(
            deliveries.c.guest_id == guests.c.id,
            deliveries.c.channel == bindparam("channel", type_=deliveries.c.channel.type),
            among(deliveries.c.address, "addresses"),
        )
        .scalar_subquery()
        .label("last_messaged")
    )
    # Tables, not entities: run on the connection, without the ORM's execution layer.
    return (
        select(
            guests.c.id,
            guests.c.wedding_id,
            guests.c.rsvp_status,
            guests.c.party_size,
            index_column,
            weddings.c.organisation_id,
            weddings.c.wedding_date,
            weddings.c.couple_names,
            last_messaged,
        )
        .join(weddings, weddings.c.id == guests.c.wedding_id)
        .where(
            among(weddings.c.organisation_id, "organisations"),
            among(index_column, "indexes"),
        )
    )


_REPLIERS = {
    channel: prebuilt.PerDialect(functools.partial(_repliers, channel)) for channel in Channel
}


@dataclass(frozen=True, slots=True)
class RsvpAnswer:
    """A guest's RSVP to record: who said it, whose guest, and what."""

    actor: Actor
    organisation_id: int
    replier: Replier
    status: RsvpStatus
    party_size: int | None  # None: keep the party size


def rsvp_after(answer: RsvpAnswer) -> tuple[RsvpStatus, int]:
    """The guest's (status, party size) once the answer is recorded."""
    replier = answer.replier
    size = replier.party_size if answer.party_size is None else answer.party_size
    if answer.status == RsvpStatus.DECLINED:
        size = replier.party_size  # a "no" keeps the invited party size for the planners
    return answer.status, size


async def record_rsvps(session: AsyncSession, answers: Sequence[RsvpAnswer]) -> int:
    """Set each guest's RSVP (and party size when given), audited, in two statements;
    an answer that changes nothing writes nothing. Returns how many guests changed.

    One guest per answer: the callers' rounds hold one reply per sender.
    """
    now = utcnow()
    changes: list[dict[str, Any]] = []
    records: list[tuple[Actor, AuditRecord]] = []
    for answer in answers:
        replier = answer.replier
        status, size = rsvp_after(answer)
        if replier.rsvp_status == status and replier.party_size == size:
            continue
        changes.append({"guest_id": replier.guest_id, "status": status, "size": size, "now": now})
        records.append(
            (
                answer.actor,
                AuditRecord(
                    answer.organisation_id,
                    "guest.rsvp",
                    "guest",
                    replier.guest_id,
                    before={
                        "rsvp_status": replier.rsvp_status.value,
                        "party_size": replier.party_size,
                    },
                    after={"rsvp_status": status.value, "party_size": size},
                ),
            )
        )
    if changes:
        await prebuilt.run(session, _SET_RSVPS, changes)
        await audit.record_each(session, records)
    return len(changes)


def _set_rsvps() -> Executable:
    table = cast(Table, Guest.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("guest_id"))
        .values(
            rsvp_status=bindparam("status"),
            party_size=bindparam("size"),
            updated_at=bindparam("now"),
        )
    )


_SET_RSVPS = _set_rsvps()


async def tell_planners(
    session: AsyncSession, organisation_id: int, kind: str, **payload: Any
) -> None:
    """An outbox event for the planners' Slack thread (ids only, no personal data)."""
    # A Core insert: no unit-of-work flush on the webhooks' hot path.
    await session.execute(
        insert(Event).values(
            organisation_id=organisation_id, kind=kind, payload=payload, created_at=utcnow()
        )
    )


async def tell_planners_each(
    session: AsyncSession, events: Sequence[tuple[int, str, dict[str, Any]]]
) -> None:
    """Several outbox events, (organisation id, kind, payload) each, in one statement."""
    if events:
        now = utcnow()
        await prebuilt.run(
            session,
            _ADD_EVENTS,
            [
                {"organisation_id": o, "kind": kind, "payload": payload, "created_at": now}
                for o, kind, payload in events
            ],
        )


_ADD_EVENTS = insert(cast(Table, Event.__table__))

"""Guests' messages as they arrive: recorded once, routed to an organisation and a guest."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import Actor, AuditRecord
from store.enums import Channel, InboundClass, RsvpStatus
from store.models import Delivery, Event, Guest, InboundMessage, Organisation, Wedding
from store.models.base import utcnow

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ArrivedMessage:
    channel: Channel
    provider: str  # twilio, sendgrid, resend, postmark
    provider_message_id: str
    from_address: str  # normalised: E.164 or a lower-cased email
    to_address: str
    body: str


@dataclass(frozen=True, slots=True)
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
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = cast(Table, InboundMessage.__table__)
    # Parameters apart from the statement (executemany): one compiled form,
    # cached, which SQLAlchemy sends as one multi-row INSERT … RETURNING.
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["provider", "provider_message_id"])
        .returning(table.c.id, table.c.provider, table.c.provider_message_id)
    )
    result = await session.execute(statement, list(values.values()))
    return {(provider, sid): id_ for id_, provider, sid in result}


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
    found = await guests_replying(session, channel, [(organisation_id, address)])
    replying = found.get((organisation_id, address))
    return replying[0] if replying else None


async def guests_replying(
    session: AsyncSession, channel: Channel, senders: Collection[tuple[int, str]]
) -> dict[tuple[int, str], tuple[Guest, Wedding]]:
    """For each (organisation id, address), the guest the reply is from, with the wedding.

    Several guests may share a number (a household) or appear in several
    weddings: the one we last sent something to on this channel is the one
    answering; otherwise the guest of the wedding that comes soonest. One
    query for all senders (replies are the webhooks' hot path); the few
    candidates per address are ranked here.
    """
    if not senders:
        return {}
    # Addresses are encrypted: guests are found by their blind index (the
    # column takes the clear address), and what we last sent them is compared
    # with the senders' addresses, which are the guests' own.
    field = "phone" if channel == Channel.SMS else "email"
    addresses = {address for _, address in senders}
    last_messaged = (
        select(func.max(Delivery.sent_at))
        .where(
            Delivery.guest_id == Guest.id,
            Delivery.channel == channel,
            Delivery.address.in_(addresses),
        )
        .scalar_subquery()
    )
    result = await session.execute(
        select(Guest, Wedding, last_messaged)
        .join(Wedding, Wedding.id == Guest.wedding_id)
        .where(
            Wedding.organisation_id.in_({organisation for organisation, _ in senders}),
            getattr(Guest, f"{field}_index").in_(addresses),
        )
    )
    rows = list(result.all())
    today = date.today()
    # Weddings still to come, the nearest first; past ones after; then the
    # latest messaged first (stable: a second sort keeps the first's order for ties).
    rows.sort(key=lambda r: (r[1].wedding_date < today, r[1].wedding_date, r[0].id))
    rows.sort(key=lambda r: (r[2] is not None, r[2] or _NEVER), reverse=True)
    chosen: dict[tuple[int, str], tuple[Guest, Wedding]] = {}
    wanted = set(senders)
    for guest, wedding, _ in rows:
        key = (wedding.organisation_id, getattr(guest, field))
        if key in wanted:
            chosen.setdefault(key, (guest, wedding))
    return chosen


async def record_rsvp(
    session: AsyncSession,
    actor: Actor,
    guest: Guest,
    organisation_id: int,
    status: RsvpStatus,
    party_size: int | None,
) -> bool:
    """Set the guest's RSVP (and party size when given); audited. False if nothing changed."""
    before: dict[str, Any] = {
        "rsvp_status": guest.rsvp_status.value,
        "party_size": guest.party_size,
    }
    size = guest.party_size if party_size is None else party_size
    if status == RsvpStatus.DECLINED:
        size = guest.party_size  # a "no" keeps the invited party size for the planners
    if guest.rsvp_status == status and guest.party_size == size:
        return False
    guest.rsvp_status = status
    guest.party_size = size
    await session.flush()
    await audit.record_one(
        session,
        actor,
        AuditRecord(
            organisation_id,
            "guest.rsvp",
            "guest",
            guest.id,
            before=before,
            after={"rsvp_status": status.value, "party_size": size},
        ),
    )
    return True


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
        await session.execute(
            insert(cast(Table, Event.__table__)),
            [
                {"organisation_id": o, "kind": kind, "payload": payload, "created_at": now}
                for o, kind, payload in events
            ],
        )

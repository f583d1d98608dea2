"""Guests' messages as they arrive: recorded once, routed to an organisation and a guest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import Actor, AuditRecord
from store.enums import Channel, InboundClass, RsvpStatus
from store.models import Delivery, Event, Guest, InboundMessage, Organisation, Wedding
from store.models.base import utcnow


@dataclass(frozen=True, slots=True)
class ArrivedMessage:
    channel: Channel
    provider: str  # twilio, sendgrid, resend, postmark
    provider_message_id: str
    from_address: str  # normalised: E.164 or a lower-cased email
    to_address: str
    body: str


async def record_arrival(
    session: AsyncSession,
    organisation_id: int | None,
    message: ArrivedMessage,
    *,
    guest_id: int | None = None,
    classification: InboundClass | None = None,
) -> int | None:
    """Store the message; None when this provider id was seen before (a retried webhook).

    INSERT … ON CONFLICT DO NOTHING on (provider, provider_message_id): two
    deliveries of one webhook racing each other still give one row and one effect.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(InboundMessage)
        .values(
            organisation_id=organisation_id,
            guest_id=guest_id,
            classification=classification,
            channel=message.channel,
            provider=message.provider,
            provider_message_id=message.provider_message_id,
            from_address=message.from_address,
            to_address=message.to_address,
            body=message.body,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["provider", "provider_message_id"])
        .returning(InboundMessage.id)
    )
    return await session.scalar(statement)


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
    """Which of the organisation's guests with this address the reply is from.

    Several guests may share a number (a household) or appear in several
    weddings: the one we last sent something to on this channel is the one
    answering; otherwise the guest of the wedding that comes soonest.
    """
    address_column = Guest.phone if channel == Channel.SMS else Guest.email
    last_messaged = (
        select(func.max(Delivery.sent_at))
        .where(
            Delivery.guest_id == Guest.id,
            Delivery.channel == channel,
            Delivery.address == address,
        )
        .scalar_subquery()
    )
    # One round trip (replies are the webhooks' hot path); the wedding comes
    # along into the session, for the answer to name the couple.
    row = (
        await session.execute(
            select(Guest, Wedding)
            .join(Wedding, Wedding.id == Guest.wedding_id)
            .where(Wedding.organisation_id == organisation_id, address_column == address)
            .order_by(
                last_messaged.desc().nulls_last(),
                # Then weddings still to come, the nearest first; past ones after.
                (Wedding.wedding_date < date.today()).asc(),
                Wedding.wedding_date,
                Guest.id,
            )
            .limit(1)
        )
    ).first()
    return None if row is None else row.Guest


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

"""Where a person's data lies: the conditions that find their rows in each table.

Export and erasure use the same conditions, so what one shows is what the
other removes. A row is theirs when it names one of their guest rows, or —
for rows that name no guest (a text from a number that was nobody's guest
then) — one of their addresses within the organisation.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from store.enums import Channel
from store.keyring import Keyring
from store.models import (
    AuditEntry,
    Campaign,
    Delivery,
    EmailEngagement,
    Event,
    InboundMessage,
    Member,
    SlackMessage,
)
from store.privacy.person import Person
from store.repositories.suppressions import entries_for


def _by_address(
    person: Person,
    channel_column: InstrumentedAttribute[Channel],
    address_column: InstrumentedAttribute[str],
) -> ColumnElement[bool]:
    return or_(
        false(),
        *(
            and_(channel_column == channel, address_column.in_(person.on(channel)))
            for channel in Channel
            if person.on(channel)
        ),
    )


def deliveries(person: Person) -> ColumnElement[bool]:
    """Messages to their guest rows, and to their addresses from rows since removed."""
    of_organisation = select(Campaign.id).where(Campaign.organisation_id == person.organisation.id)
    return or_(
        Delivery.guest_id.in_(person.guest_ids),
        and_(
            Delivery.guest_id.is_(None),
            Delivery.campaign_id.in_(of_organisation),
            _by_address(person, Delivery.channel, Delivery.address),
        ),
    )


def engagements(person: Person) -> ColumnElement[bool]:
    return EmailEngagement.delivery_id.in_(select(Delivery.id).where(deliveries(person)))


def inbound_messages(person: Person) -> ColumnElement[bool]:
    return or_(
        InboundMessage.guest_id.in_(person.guest_ids),
        and_(
            InboundMessage.guest_id.is_(None),
            InboundMessage.organisation_id == person.organisation.id,
            _by_address(person, InboundMessage.channel, InboundMessage.from_address),
        ),
    )


def suppressions(person: Person, keyring: Keyring) -> ColumnElement[bool]:
    """By the keyed hash: an entry from an earlier erasure is still theirs."""
    return entries_for(keyring, person.addresses, person.organisation.id)


def audit_rows(
    person: Person, suppression_ids: list[int], message_ids: list[int]
) -> ColumnElement[bool]:
    """Rows about their guest rows or ledger entries, and the changes they made
    themselves (a reply, an unsubscribe)."""
    actors = [f"guest:{guest_id}" for guest_id in person.guest_ids]
    actors += [f"guest:inbound-{message_id}" for message_id in message_ids]
    return and_(
        AuditEntry.organisation_id == person.organisation.id,
        or_(
            and_(
                AuditEntry.entity_type == "guest",
                AuditEntry.entity_id.in_([str(i) for i in person.guest_ids]),
            ),
            and_(
                AuditEntry.entity_type == "suppression",
                AuditEntry.entity_id.in_([str(i) for i in suppression_ids]),
            ),
            AuditEntry.actor.in_(actors),
        ),
    )


def slack_messages(person: Person) -> ColumnElement[bool]:
    return SlackMessage.guest_id.in_(person.guest_ids)


def events(person: Person) -> ColumnElement[bool]:
    return and_(
        Event.organisation_id == person.organisation.id,
        Event.payload["guest_id"].as_integer().in_(person.guest_ids),
    )


def members(person: Person) -> ColumnElement[bool]:
    """The person may also be a member of the organisation (a planner invited to a wedding)."""
    return and_(
        Member.organisation_id == person.organisation.id,
        or_(
            Member.email.in_(person.on(Channel.EMAIL)),
            Member.phone.in_(person.on(Channel.SMS)),
        ),
    )

"""Unsubscribing by link, and undoing it: ledger, audit and outbox event in one transaction.

The guest is the actor. Undo lifts only UNSUBSCRIBE entries: a STOP, a
bounce or a complaint on the same address stays, whatever the page is asked.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.compose.unsubscribe_tokens import UnsubscribeClaim
from store.audit import Actor
from store.database import Database
from store.enums import Channel, SuppressionReason
from store.models import Guest, Organisation, Wedding
from store.repositories.inbound import tell_planners
from store.repositories.suppressions import SuppressionLedger

SOURCE = "unsubscribe_link"
UNDO_SOURCE = "unsubscribe_link_undo"


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends the messages, as a page names them."""

    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Recipient:
    """The guest a token names, with what a page may say about them."""

    guest_id: int
    wedding_id: int
    couple_names: str
    sender: Sender
    addresses: dict[Channel, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    recipient: Recipient
    asked: tuple[Channel, ...]  # the channels asked for on which the guest has an address
    changed: tuple[Channel, ...]  # newly suppressed, or lifted
    still_blocked: tuple[Channel, ...] = ()  # undo: suppressed for another reason


def _sender(organisation: Organisation) -> Sender:
    return Sender(organisation.name, organisation.sender_email or organisation.contact_email or "")


async def sender(session: AsyncSession, organisation_id: int) -> Sender | None:
    organisation = await session.get(Organisation, organisation_id)
    return None if organisation is None else _sender(organisation)


async def recipient(session: AsyncSession, claim: UnsubscribeClaim) -> Recipient | None:
    """None when the guest is gone (erased) or is no longer the organisation's."""
    row = (
        await session.execute(
            select(Guest, Wedding, Organisation)
            .join(Wedding, Wedding.id == Guest.wedding_id)
            .join(Organisation, Organisation.id == Wedding.organisation_id)
            .where(Guest.id == claim.guest_id, Organisation.id == claim.organisation_id)
        )
    ).one_or_none()
    if row is None:
        return None
    guest, wedding, organisation = row
    addresses = {
        channel: address
        for channel, address in ((Channel.EMAIL, guest.email), (Channel.SMS, guest.phone))
        if address
    }
    return Recipient(guest.id, wedding.id, wedding.couple_names, _sender(organisation), addresses)


async def suppressed_channels(
    session: AsyncSession, claim: UnsubscribeClaim, found: Recipient
) -> frozenset[Channel]:
    """The guest's channels that are on the opt-out list now, for whatever reason."""
    active = await SuppressionLedger(session).active_among(
        claim.organisation_id, found.addresses.items()
    )
    return frozenset(channel for channel, _ in active)


def _asked(channels: Collection[Channel], found: Recipient) -> tuple[Channel, ...]:
    """The channels asked for on which the guest has an address, in a fixed order."""
    return tuple(c for c in Channel if c in channels and c in found.addresses)


def _actor(claim: UnsubscribeClaim) -> Actor:
    return Actor("guest", str(claim.guest_id))


async def _tell_planners(
    session: AsyncSession, claim: UnsubscribeClaim, found: Recipient, kind: str, channel: Channel
) -> None:
    # Ids and the channel only: the outbox is read by other processes and
    # outlives guests' erasure.
    await tell_planners(
        session,
        claim.organisation_id,
        kind,
        guest_id=found.guest_id,
        wedding_id=found.wedding_id,
        campaign_id=claim.campaign_id,
        channel=channel.value,
    )


async def unsubscribe(
    database: Database, claim: UnsubscribeClaim, channels: Collection[Channel]
) -> Outcome | None:
    """Suppress the guest's addresses on ``channels``; committed when this returns."""
    async with database.transaction() as session:
        found = await recipient(session, claim)
        if found is None:
            return None
        ledger = SuppressionLedger(session)
        asked = _asked(channels, found)
        changed = []
        for channel in asked:
            added = await ledger.suppress(
                _actor(claim),
                organisation_id=claim.organisation_id,
                channel=channel,
                address=found.addresses[channel],
                reason=SuppressionReason.UNSUBSCRIBE,
                source=SOURCE,
            )
            if added:
                changed.append(channel)
                await _tell_planners(session, claim, found, "guest.unsubscribed", channel)
    return Outcome(found, asked, tuple(changed))


async def resubscribe(
    database: Database, claim: UnsubscribeClaim, channels: Collection[Channel]
) -> Outcome | None:
    """Lift the guest's own unsubscribes on ``channels``; nothing else is lifted."""
    async with database.transaction() as session:
        found = await recipient(session, claim)
        if found is None:
            return None
        ledger = SuppressionLedger(session)
        asked = _asked(channels, found)
        changed = []
        for channel in asked:
            lifted = await ledger.lift(
                _actor(claim),
                organisation_id=claim.organisation_id,
                channel=channel,
                address=found.addresses[channel],
                source=UNDO_SOURCE,
                reasons={SuppressionReason.UNSUBSCRIBE},
            )
            if lifted:
                changed.append(channel)
                await _tell_planners(session, claim, found, "guest.resubscribed", channel)
        blocked = await suppressed_channels(session, claim, found)
    still_blocked = tuple(channel for channel in asked if channel in blocked)
    return Outcome(found, asked, tuple(changed), still_blocked)

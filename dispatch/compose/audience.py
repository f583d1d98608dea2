"""The guests a segment selects and who of them each channel reaches, read once as
plain values and computed off the event loop.

A campaign's preview and `/comms guests count` both need the whole audience
of a wedding: its guests (decrypted), the organisation's active opt-outs
matched by keyed hash, and who agreed to texts. For a large wedding that is
tens of thousands of decryptions, hashes and renders, so the store is read
here as it stores things (sealed fields as ciphertext, custom fields as JSON
text), and that read is both the input of the computation, which runs in a
worker thread, and the key it is kept under (``preview_memo``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.compose.preview_memo import PreviewMemo
from dispatch.compose.tokens import GuestFacts
from dispatch.recipients import RecipientPlan, address_of, plan_recipients
from store.database import keyring_of
from store.enums import Channel
from store.keyring import Keyring, is_encrypted
from store.models import Guest
from store.repositories.consents import consenting_guest_ids
from store.repositories.guests import groups_by_guest
from store.repositories.suppressions import ActiveEntry, SuppressionLedger, match_active
from store.segments import Segment

# Reading a wedding's guests into tuples takes ~5 µs a row on the event loop; a
# big wedding read whole held the loop ~50 ms a preview, and Slack's
# acknowledgements queued behind it (p99 2.7 s on PostgreSQL during a
# campaign). The loop answers others between chunks of this many rows.
ROWS_BETWEEN_TURNS = 1_000

# Each grouped guest's id and group names, by id.
Groups = tuple[tuple[int, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class AudienceRead:
    """What the store said, as hashable values: the segment (None: unreadable, so no
    guests), the guests' rows as stored, their groups, the organisation's active
    opt-outs, who agreed to texts, and the keys to open and hash addresses with."""

    segment: Segment | None
    guests: tuple[tuple[Any, ...], ...]
    groups: Groups
    opted_out: tuple[ActiveEntry, ...]
    sms_consent: frozenset[int]
    keyring: Keyring


async def read_audience(
    session: AsyncSession, wedding_id: int, organisation_id: int, segment: Segment | None
) -> AudienceRead:
    groups = await groups_by_guest(session, wedding_id)
    return AudienceRead(
        segment=segment,
        guests=await _guest_rows(session, wedding_id, segment) if segment is not None else (),
        groups=tuple(sorted((guest_id, tuple(names)) for guest_id, names in groups.items())),
        opted_out=await SuppressionLedger(session).active_entries(organisation_id),
        sms_consent=await consenting_guest_ids(session, wedding_id, Channel.SMS),
        keyring=keyring_of(session),
    )


def audience_guests(read: AudienceRead) -> list[GuestFacts]:
    """The segment's guests in clear; no I/O (a worker thread's work)."""
    groups = dict(read.groups)

    def clear(stored: str | None) -> str | None:
        return read.keyring.decrypt(stored) if stored and is_encrypted(stored) else stored

    guests = [
        GuestFacts(
            id=guest_id,
            name=clear(name) or "",
            email=clear(email),
            phone=clear(phone),
            rsvp_status=rsvp_status.value,
            party_size=party_size,
            dietary_requirements=clear(dietary_requirements),
            plus_one=plus_one,
            groups=groups.get(guest_id, ()),
            timezone=timezone,
            preferred_channel=preferred_channel.value if preferred_channel else None,
            custom_fields=json.loads(custom_fields) if custom_fields else {},
        )
        for (
            guest_id,
            name,
            email,
            phone,
            rsvp_status,
            party_size,
            dietary_requirements,
            plus_one,
            timezone,
            preferred_channel,
            custom_fields,
        ) in read.guests
    ]
    segment = read.segment
    if segment is None or not segment.tests_in_python:
        return guests
    # Clauses on sealed fields (dietary needs) are decided on clear values.
    return [guest for guest in guests if segment.admits(_as_guest(guest))]


def audience_plan(
    read: AudienceRead, guests: list[GuestFacts], channels: tuple[Channel, ...]
) -> RecipientPlan:
    """Who gets what on ``channels``: opt-outs matched by hash; no I/O."""
    suppressed = match_active(
        read.keyring,
        read.opted_out,
        (
            (channel, address)
            for guest in guests
            for channel in Channel
            if (address := address_of(guest, channel)) is not None
        ),
    )
    return plan_recipients(guests, channels, suppressed=suppressed, sms_consent=read.sms_consent)


_PLANS: PreviewMemo[tuple[int, RecipientPlan]] = PreviewMemo()


async def planned(
    session: AsyncSession,
    wedding_id: int,
    organisation_id: int,
    segment: Segment,
    channels: tuple[Channel, ...],
) -> tuple[int, RecipientPlan]:
    """How many guests the segment selects, and the plan for them on ``channels``."""
    read = await read_audience(session, wedding_id, organisation_id, segment)

    def compute() -> tuple[int, RecipientPlan]:
        guests = audience_guests(read)
        return len(guests), audience_plan(read, guests, channels)

    return await _PLANS.get((read, channels), compute)


def _as_guest(guest: GuestFacts) -> Guest:
    """A transient model for the segment's clauses on sealed fields (never added)."""
    return Guest(
        id=guest.id,
        name=guest.name,
        email=guest.email,
        phone=guest.phone,
        dietary_requirements=guest.dietary_requirements,
        party_size=guest.party_size,
        plus_one=guest.plus_one,
    )


async def _guest_rows(
    session: AsyncSession, wedding_id: int, segment: Segment
) -> tuple[tuple[Any, ...], ...]:
    # Columns, not ORM objects: building (and tracking) an object for each of
    # thousands of guests was a third of a preview's time. Sealed fields come
    # as stored (ciphertext): the key compares them as they are, and only a
    # computation run anew decrypts them, in its worker thread.
    # Through the connection: a plain Core result, not the ORM's row loading
    # (which was half of this read's time).
    connection = await session.connection()
    rows = await connection.execute(
        select(
            Guest.id,
            type_coerce(Guest.name, Text),
            type_coerce(Guest.email, Text),
            type_coerce(Guest.phone, Text),
            Guest.rsvp_status,
            Guest.party_size,
            type_coerce(Guest.dietary_requirements, Text),
            Guest.plus_one,
            Guest.timezone,
            Guest.preferred_channel,
            cast(Guest.custom_fields, Text),
        )
        .where(Guest.wedding_id == wedding_id, segment.condition())
        .order_by(Guest.id)
    )
    guests: list[tuple[Any, ...]] = []
    for row in rows:  # buffered: the chunks wait for nothing but the loop's turn
        guests.append(tuple(row))
        if len(guests) % ROWS_BETWEEN_TURNS == 0:
            await asyncio.sleep(0)
    return tuple(guests)

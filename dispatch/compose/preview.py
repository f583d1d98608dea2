"""The preview a planner approves from: samples, audience, findings, score and cost.

The only part of composition that reads the store: the campaign, its wedding
and organisation, the guests its segment selects, the opt-out ledger and
consent records. Nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, cast, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.compose.compliance import ComplianceReport, SendContext, assess
from dispatch.compose.composer import CampaignContent, Composer, OrganisationFacts
from dispatch.compose.email_message import EmailContent
from dispatch.compose.findings import Finding, Severity
from dispatch.compose.preview_memo import PreviewMemo
from dispatch.compose.sms_segments import SmsSegments, sms_segments
from dispatch.compose.tokens import GuestFacts, WeddingFacts
from dispatch.recipients import RecipientPlan, address_of, plan_recipients
from dispatch.settings import DispatchSettings
from store.database import keyring_of
from store.enums import Channel
from store.errors import SegmentError
from store.keyring import Keyring, is_encrypted
from store.models import Campaign, Guest, Organisation, Wedding
from store.repositories.consents import consenting_guest_ids
from store.repositories.guests import groups_by_guest
from store.repositories.suppressions import ActiveEntry, SuppressionLedger, match_active
from store.segments import Segment, parse_segment
from store.tiers import limits_for

SAMPLES = 3


@dataclass(frozen=True, slots=True)
class SampleMessage:
    guest_name: str
    email: EmailContent | None
    # The envelope and footer the sender adds, so the preview is the whole email.
    email_from: str | None
    email_to: str | None
    email_footer: str | None
    sms: str | None
    sms_segments: SmsSegments | None


@dataclass(frozen=True, slots=True)
class CampaignPreview:
    campaign_id: int | None  # None for a draft that was never saved
    audience: str  # the segment in words
    audience_size: int  # guests the segment selects
    plan: RecipientPlan
    samples: tuple[SampleMessage, ...]
    report: ComplianceReport


async def preview_campaign(
    session: AsyncSession, campaign: Campaign, settings: DispatchSettings, now: datetime
) -> CampaignPreview:
    """Preview a campaign, saved or not (a draft ``Campaign`` built in memory works too).

    The reads happen here, as plain values; the rest (every guest's texts,
    segments, prices, time zones and opt-out hashes: a few hundred
    milliseconds of CPU for 10,000 guests) runs in a worker thread, so the
    event loop meanwhile goes on answering, above all Slack's acknowledgements;
    and it is kept under those very values (``preview_memo``), so showing an
    unchanged campaign again costs only the reads.
    """
    wedding = await session.get(Wedding, campaign.wedding_id)
    organisation = await session.get(Organisation, campaign.organisation_id)
    # Foreign keys guarantee both.
    assert wedding is not None
    assert organisation is not None
    audience_problems: list[Finding] = []
    segment: Segment | None = None
    try:
        segment = parse_segment(campaign.audience)
    except SegmentError as error:
        audience_problems.append(
            Finding(
                "audience_invalid",
                Severity.BLOCKING,
                f"The audience cannot be read: {error}",
                "Write a segment such as rsvp=pending, or leave it empty for everyone.",
            )
        )
    # Everything the computation needs, read from the ORM objects here: a
    # worker thread must not touch them (an expired attribute would load).
    facts = _Facts(
        campaign_id=campaign.id,
        audience=segment.describe() if segment is not None else campaign.audience,
        segment=segment,
        content=CampaignContent.of(campaign),
        wedding=WeddingFacts.of(wedding, organisation),
        organisation=OrganisationFacts.of(organisation, settings.email_from),
        # The campaign's own channels: email as a fallback for texts is no plan.
        channels=tuple(Channel(channel) for channel in campaign.channels),
        # Quiet hours begin and end on a whole minute of every zone's clock,
        # so the start of this minute gives the same answer as this second,
        # and one kept preview serves the whole minute.
        send_at=campaign.scheduled_at or now.replace(second=0, microsecond=0),
        day_of_logistics=campaign.day_of_logistics,
        recipients_limit=limits_for(organisation.tier).recipients_per_campaign,
        sms_prices=tuple(sorted(settings.sms_price_per_segment.items())),
        public_base_url=settings.public_base_url,
        audience_problems=tuple(audience_problems),
    )
    read = _Read(
        guests=await _guest_rows(session, wedding.id, segment) if segment is not None else (),
        groups=await _groups(session, wedding.id),
        opted_out=await SuppressionLedger(session).active_entries(organisation.id),
        sms_consent=await consenting_guest_ids(session, wedding.id, Channel.SMS),
        keyring=keyring_of(session),
    )
    return await _MEMO.get((facts, read), lambda: _compose(facts, read))


@dataclass(frozen=True, slots=True)
class _Facts:
    campaign_id: int | None
    audience: str
    segment: Segment | None
    content: CampaignContent
    wedding: WeddingFacts
    organisation: OrganisationFacts
    channels: tuple[Channel, ...]
    send_at: datetime
    day_of_logistics: bool
    recipients_limit: int
    sms_prices: tuple[tuple[str, Decimal], ...]
    public_base_url: str
    audience_problems: tuple[Finding, ...]


# Each grouped guest's id and group names, by id.
_Groups = tuple[tuple[int, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class _Read:
    """What the store said, as hashable values: the guests' rows (custom fields as
    their JSON text), their groups, the active opt-outs, who agreed to texts, and
    the keys the opt-outs' address hashes are made with."""

    guests: tuple[tuple[Any, ...], ...]
    groups: _Groups
    opted_out: tuple[ActiveEntry, ...]
    sms_consent: frozenset[int]
    keyring: Keyring


_MEMO: PreviewMemo[CampaignPreview] = PreviewMemo()


def _compose(facts: _Facts, read: _Read) -> CampaignPreview:
    """The preview from what was read: pure computation, safe in a worker thread."""
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
    segment = facts.segment
    if segment is not None and segment.tests_in_python:
        # Clauses on sealed fields (dietary needs) are decided on clear values.
        guests = [
            guest
            for guest in guests
            if segment.admits(
                Guest(
                    id=guest.id,
                    name=guest.name,
                    email=guest.email,
                    phone=guest.phone,
                    dietary_requirements=guest.dietary_requirements,
                    party_size=guest.party_size,
                    plus_one=guest.plus_one,
                )
            )
        ]
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
    composer = Composer(
        facts.content,
        facts.wedding,
        facts.organisation,
        custom_fields=frozenset(key for guest in guests for key in guest.custom_fields),
    )
    plan = plan_recipients(
        guests, facts.channels, suppressed=suppressed, sms_consent=read.sms_consent
    )
    context = SendContext(
        send_at=facts.send_at,
        day_of_logistics=facts.day_of_logistics,
        recipients_limit=facts.recipients_limit,
        sms_prices=dict(facts.sms_prices),
        public_base_url=facts.public_base_url,
    )
    report = assess(composer, plan, context, facts.audience_problems)
    return CampaignPreview(
        campaign_id=facts.campaign_id,
        audience=facts.audience,
        audience_size=len(guests),
        plan=plan,
        samples=(_samples(composer, plan, facts.public_base_url) if not composer.problems else ()),
        report=report,
    )


async def _guest_rows(
    session: AsyncSession, wedding_id: int, segment: Segment
) -> tuple[tuple[Any, ...], ...]:
    # Columns, not ORM objects: a preview reads thousands of guests, and
    # building (and tracking) an object for each was a third of its time. The
    # sealed fields come as stored (ciphertext): the memo's key compares them
    # as they are, and only a preview computed anew decrypts them, in its
    # worker thread.
    rows = await session.execute(
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
            # As text: hashable for the memo's key, and parsed only when used.
            cast(Guest.custom_fields, Text),
        )
        .where(Guest.wedding_id == wedding_id, segment.condition())
        .order_by(Guest.id)
    )
    return tuple(tuple(row) for row in rows)


async def _groups(
    session: AsyncSession, wedding_id: int
) -> tuple[tuple[int, tuple[str, ...]], ...]:
    groups = await groups_by_guest(session, wedding_id)
    return tuple(sorted((guest_id, tuple(names)) for guest_id, names in groups.items()))


def _samples(
    composer: Composer, plan: RecipientPlan, public_base_url: str
) -> tuple[SampleMessage, ...]:
    """Three guests who show the most: the first, the one with most blanks, the longest SMS."""
    recipients = list({d.guest.id: d.guest for d in plan.deliveries}.values())
    if not recipients:
        return ()
    channels_of: dict[int, set[Channel]] = {}
    for delivery in plan.deliveries:
        channels_of.setdefault(delivery.guest.id, set()).add(delivery.channel)
    bare = frozenset().union(*(t.bare_tokens for t in composer.templates.values()))

    def blanks(guest: GuestFacts) -> int:
        values = composer.values(guest)
        return sum(1 for token in bare if not values.get(token, "").strip())

    def sms_length(guest: GuestFacts) -> int:
        return len(composer.sms_text(guest)) if Channel.SMS in channels_of[guest.id] else 0

    chosen: list[GuestFacts] = []
    for candidate in (recipients[0], max(recipients, key=blanks), max(recipients, key=sms_length)):
        if candidate not in chosen:
            chosen.append(candidate)
    for guest in recipients:
        if len(chosen) >= SAMPLES:
            break
        if guest not in chosen:
            chosen.append(guest)
    samples = []
    # Each guest's real link is signed when the email is built; the preview
    # shows where it points.
    footer = composer.footer(f"{public_base_url}/u/…").text()
    for guest in chosen[:SAMPLES]:
        sms = composer.sms_text(guest) if Channel.SMS in channels_of[guest.id] else None
        emailed = Channel.EMAIL in channels_of[guest.id]
        samples.append(
            SampleMessage(
                guest_name=guest.name,
                email=composer.email_content(guest) if emailed else None,
                email_from=composer.from_line() if emailed else None,
                email_to=f"{guest.name} <{guest.email}>" if emailed else None,
                email_footer=footer if emailed else None,
                sms=sms,
                sms_segments=sms_segments(sms) if sms is not None else None,
            )
        )
    return tuple(samples)

"""The preview a planner approves from: samples, audience, findings, score and cost.

The only part of composition that reads the store: the campaign, its wedding
and organisation, the guests its segment selects, the opt-out ledger and
consent records. Nothing is written.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.compose.compliance import ComplianceReport, SendContext, assess
from dispatch.compose.composer import CampaignContent, Composer, OrganisationFacts
from dispatch.compose.email_message import EmailContent
from dispatch.compose.findings import Finding, Severity
from dispatch.compose.sms_segments import SmsSegments, sms_segments
from dispatch.compose.tokens import GuestFacts, WeddingFacts
from dispatch.recipients import RecipientPlan, address_of, plan_recipients
from dispatch.settings import DispatchSettings
from store.enums import Channel
from store.errors import SegmentError
from store.models import Campaign, Guest, Organisation, Wedding
from store.repositories.consents import consenting_guest_ids
from store.repositories.guests import groups_by_guest
from store.repositories.suppressions import SuppressionLedger
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

    The reads happen here; the rest (every guest's texts, segments, prices and
    time zones: over a second of CPU for a large wedding before it was made
    cheaper, still a few hundred milliseconds) runs in a worker thread, so the
    event loop meanwhile goes on answering, above all Slack's acknowledgements.
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
    guests = await _guests(session, wedding.id, segment) if segment is not None else []
    suppressed = await SuppressionLedger(session).active_among(
        organisation.id,
        (
            (channel, address)
            for guest in guests
            for channel in Channel
            if (address := address_of(guest, channel)) is not None
        ),
    )
    sms_consent = await consenting_guest_ids(session, wedding.id, Channel.SMS)
    # Everything the computation needs, read from the ORM objects here: a
    # worker thread must not touch them (an expired attribute would load).
    facts = _Facts(
        campaign_id=campaign.id,
        audience=segment.describe() if segment is not None else campaign.audience,
        content=CampaignContent.of(campaign),
        wedding=WeddingFacts.of(wedding, organisation),
        organisation=OrganisationFacts.of(organisation, settings.email_from),
        # The campaign's own channels: email as a fallback for texts is no plan.
        channels=tuple(Channel(channel) for channel in campaign.channels),
        context=SendContext(
            send_at=campaign.scheduled_at or now,
            day_of_logistics=campaign.day_of_logistics,
            recipients_limit=limits_for(organisation.tier).recipients_per_campaign,
            sms_prices=settings.sms_price_per_segment,
            public_base_url=settings.public_base_url,
        ),
        audience_problems=tuple(audience_problems),
    )
    return await asyncio.to_thread(_compose, facts, guests, suppressed, sms_consent)


@dataclass(frozen=True, slots=True)
class _Facts:
    campaign_id: int | None
    audience: str
    content: CampaignContent
    wedding: WeddingFacts
    organisation: OrganisationFacts
    channels: tuple[Channel, ...]
    context: SendContext
    audience_problems: tuple[Finding, ...]


def _compose(
    facts: _Facts,
    guests: list[GuestFacts],
    suppressed: dict[tuple[Channel, str], str],
    sms_consent: frozenset[int],
) -> CampaignPreview:
    """The preview from what was read: pure computation, safe in a worker thread."""
    composer = Composer(
        facts.content,
        facts.wedding,
        facts.organisation,
        custom_fields=frozenset(key for guest in guests for key in guest.custom_fields),
    )
    plan = plan_recipients(guests, facts.channels, suppressed=suppressed, sms_consent=sms_consent)
    report = assess(composer, plan, facts.context, facts.audience_problems)
    return CampaignPreview(
        campaign_id=facts.campaign_id,
        audience=facts.audience,
        audience_size=len(guests),
        plan=plan,
        samples=(
            _samples(composer, plan, facts.context.public_base_url) if not composer.problems else ()
        ),
        report=report,
    )


async def _guests(session: AsyncSession, wedding_id: int, segment: Segment) -> list[GuestFacts]:
    # Columns, not ORM objects: a preview reads thousands of guests, and
    # building (and tracking) an object for each was a third of its time.
    rows = await session.execute(
        select(
            Guest.id,
            Guest.name,
            Guest.email,
            Guest.phone,
            Guest.rsvp_status,
            Guest.party_size,
            Guest.dietary_requirements,
            Guest.plus_one,
            Guest.timezone,
            Guest.preferred_channel,
            Guest.custom_fields,
        )
        .where(Guest.wedding_id == wedding_id, segment.condition())
        .order_by(Guest.id)
    )
    groups = await groups_by_guest(session, wedding_id)
    return [
        GuestFacts(
            id=row.id,
            name=row.name,
            email=row.email,
            phone=row.phone,
            rsvp_status=row.rsvp_status.value,
            party_size=row.party_size,
            dietary_requirements=row.dietary_requirements,
            plus_one=row.plus_one,
            groups=tuple(groups.get(row.id, ())),
            timezone=row.timezone,
            preferred_channel=row.preferred_channel.value if row.preferred_channel else None,
            custom_fields=dict(row.custom_fields or {}),
        )
        for row in rows
    ]


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

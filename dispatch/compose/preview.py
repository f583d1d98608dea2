"""The preview a planner approves from: samples, audience, findings, score and cost.

The only part of composition that reads the store: the campaign, its wedding
and organisation, the guests its segment selects, the opt-out ledger and
consent records. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.compose.audience import AudienceRead, audience_guests, audience_plan, read_audience
from dispatch.compose.compliance import ComplianceReport, SendContext, assess
from dispatch.compose.composer import CampaignContent, Composer, OrganisationFacts
from dispatch.compose.email_message import EmailContent
from dispatch.compose.findings import Finding, Severity
from dispatch.compose.preview_memo import PreviewMemo
from dispatch.compose.sms_segments import SmsSegments, sms_segments
from dispatch.compose.tokens import GuestFacts, WeddingFacts
from dispatch.recipients import RecipientPlan
from dispatch.settings import DispatchSettings
from store.enums import Channel
from store.errors import SegmentError
from store.models import Campaign, Organisation, Wedding
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
    read = await read_audience(session, wedding.id, organisation.id, segment)
    return await _MEMO.get((facts, read), lambda: _compose(facts, read))


@dataclass(frozen=True, slots=True)
class _Facts:
    campaign_id: int | None
    audience: str
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


_MEMO: PreviewMemo[CampaignPreview] = PreviewMemo()


def _compose(facts: _Facts, read: AudienceRead) -> CampaignPreview:
    """The preview from what was read: pure computation, safe in a worker thread."""
    guests = audience_guests(read)
    composer = Composer(
        facts.content,
        facts.wedding,
        facts.organisation,
        custom_fields=frozenset(key for guest in guests for key in guest.custom_fields),
    )
    plan = audience_plan(read, guests, facts.channels)
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

"""A test send: the campaign's real message, through the real providers, to the member
who asked — and to nobody else.

The member stands in for a guest (their name fills ``guest_name``), so the
message shows exactly what guests get without any guest's data or address.
Its unsubscribe link is a dead end on purpose: a planner who tries it must
not opt a real guest out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dispatch.compose.composer import CampaignContent, Composer, OrganisationFacts
from dispatch.compose.email_message import Envelope, build_email, unsubscribe_mailto
from dispatch.compose.tokens import GuestFacts, WeddingFacts
from dispatch.errors import DispatchError
from dispatch.providers.base import OutgoingEmail, ProviderError, SenderBusy
from dispatch.runtime import Runtime
from store.enums import Channel
from store.models import Member, Organisation, Wedding
from store.repositories.campaigns import CampaignRepository

PROOF_UNSUBSCRIBE = "test-message"


class NowhereToTest(DispatchError):
    """The member has no address on any of the campaign's channels."""


@dataclass(frozen=True, slots=True)
class ProofDelivery:
    channel: Channel
    address: str
    accepted: bool
    error: str | None = None


async def send_proof(runtime: Runtime, campaign_id: int, member: Member) -> list[ProofDelivery]:
    """Send the campaign to ``member``'s own email and/or phone; what happened to each."""
    async with runtime.database.reading() as session:
        campaign = await CampaignRepository(session).get(
            campaign_id, organisation_id=member.organisation_id
        )
        wedding = await session.get(Wedding, campaign.wedding_id)
        organisation = await session.get(Organisation, campaign.organisation_id)
        assert wedding is not None
        assert organisation is not None
        composer = Composer(
            CampaignContent.of(campaign),
            WeddingFacts.of(wedding, organisation),
            OrganisationFacts.of(organisation, runtime.settings.email_from),
            for_sending=True,
        )
    channels = [Channel(c) for c in campaign.channels]
    stand_in = GuestFacts(
        id=0,
        name=member.display_name or member.slack_user_id,
        email=member.email,
        phone=member.phone,
    )
    wanted = [
        (channel, address)
        for channel in channels
        if (address := member.email if channel == Channel.EMAIL else member.phone)
    ]
    if not wanted:
        raise NowhereToTest(
            "You have no "
            + " or ".join(
                "email address" if c == Channel.EMAIL else "phone number" for c in channels
            )
            + " in guestcomms, so there is nowhere to send a test."
        )
    results = []
    for channel, address in wanted:
        try:
            if channel == Channel.SMS:
                await runtime.sms.send_sms(address, composer.sms_text(stand_in))
            else:
                await _send_email(runtime, composer, stand_in, campaign_id, address)
            results.append(ProofDelivery(channel, address, accepted=True))
        except SenderBusy as error:
            # A rate limit, not a fault: say when trying again will work.
            wait = math.ceil(error.retry_after or 1)
            busy = f"the provider is refusing messages sent this fast; try again in {wait} s"
            results.append(ProofDelivery(channel, address, accepted=False, error=busy))
        except ProviderError as error:
            results.append(ProofDelivery(channel, address, accepted=False, error=str(error)))
    return results


async def _send_email(
    runtime: Runtime, composer: Composer, stand_in: GuestFacts, campaign_id: int, address: str
) -> None:
    dead_end = f"{runtime.settings.public_base_url}/u/{PROOF_UNSUBSCRIBE}"
    content = composer.email_content(stand_in)
    sent_at = runtime.clock()
    domain = composer.organisation.sender_email.rpartition("@")[2] or "guestcomms.invalid"
    envelope = Envelope(
        from_name=composer.organisation.sender_name,
        from_address=composer.organisation.sender_email,
        to_name=stand_in.name,
        to_address=address,
        # A fresh id each time: a second test is a new message, not a re-send.
        message_id=f"<gc.test.{campaign_id}.{sent_at.timestamp():.6f}@{domain}>",
        date=sent_at,
        unsubscribe_url=dead_end,
        unsubscribe_mailto=unsubscribe_mailto(
            composer.organisation.sender_email, PROOF_UNSUBSCRIBE
        ),
        lang=composer.lang,
    )
    message = build_email(content, envelope, composer.footer(dead_end))
    outgoing = OutgoingEmail(message, idempotency_key=f"test-{campaign_id}-{sent_at.timestamp()}")
    async with runtime.email.session() as session:
        async for _index, outcome in session.send_all([outgoing]):
            if isinstance(outcome, ProviderError):
                raise outcome

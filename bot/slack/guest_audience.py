"""Who of a segment can be reached: on each channel, how many have an address, how many
opted out (and why), how many lack SMS consent — the same plan a campaign is sent by."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.compose.audience import planned
from dispatch.recipients import NO_ADDRESS, NO_SMS_CONSENT, SUPPRESSED
from store.enums import Channel
from store.models import Wedding
from store.segments import Segment


@dataclass(frozen=True, slots=True)
class ChannelReach:
    channel: Channel
    reachable: int
    no_address: int
    opted_out: Counter[str]  # by the ledger's reason
    no_consent: int

    def sentence(self) -> str:
        name = "Email" if self.channel == Channel.EMAIL else "SMS"
        parts = [f"{self.reachable} can be messaged"]
        if self.opted_out:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.opted_out.items()))
            parts.append(f"{sum(self.opted_out.values())} opted out ({reasons})")
        if self.no_consent:
            parts.append(f"{self.no_consent} without SMS consent on record")
        what = "email address" if self.channel == Channel.EMAIL else "mobile number"
        if self.no_address:
            parts.append(f"{self.no_address} have no {what}")
        return f"{name}: " + ", ".join(parts) + "."


async def reach_of(
    session: AsyncSession, wedding: Wedding, segment: Segment
) -> tuple[int, list[ChannelReach]]:
    # The same read and plan as a campaign's preview, computed off the event
    # loop and kept while nothing it was computed from changes.
    total, plan = await planned(
        session, wedding.id, wedding.organisation_id, segment, tuple(Channel)
    )
    reach = []
    for channel in Channel:
        skipped = [s for s in plan.skipped if s.channel == channel]
        opted_out = Counter(s.detail or "unknown" for s in skipped if s.reason == SUPPRESSED)
        no_address = sum(1 for s in skipped if s.reason == NO_ADDRESS)
        no_consent = sum(1 for s in skipped if s.reason == NO_SMS_CONSENT)
        reachable = total - no_address - sum(opted_out.values()) - no_consent
        reach.append(ChannelReach(channel, reachable, no_address, opted_out, no_consent))
    return total, reach

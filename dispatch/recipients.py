"""Who gets what: one delivery per (guest, channel), or the reason there is none.

The same plan feeds the preview (how many are suppressed and why), the
compliance check (consent, tier limits) and, at approval, the delivery rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dispatch.compose.tokens import GuestFacts
from store.enums import Channel

# Why a guest gets nothing on a channel; stored as the delivery's skip reason.
NO_ADDRESS = "no_address"
SUPPRESSED = "suppressed"
NO_SMS_CONSENT = "no_sms_consent"
PREFERS_OTHER_CHANNEL = "prefers_other_channel"


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    guest: GuestFacts
    channel: Channel
    address: str


@dataclass(frozen=True, slots=True)
class SkippedDelivery:
    guest: GuestFacts
    channel: Channel
    reason: str
    # For suppressions: the ledger's reason (stop, bounce, …).
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class RecipientPlan:
    deliveries: tuple[PlannedDelivery, ...]
    skipped: tuple[SkippedDelivery, ...]

    @property
    def recipient_count(self) -> int:
        """Guests who get at least one message."""
        return len({delivery.guest.id for delivery in self.deliveries})

    def on(self, channel: Channel) -> list[PlannedDelivery]:
        return [delivery for delivery in self.deliveries if delivery.channel == channel]

    def skipped_count(self, channel: Channel, reason: str) -> int:
        return sum(1 for s in self.skipped if s.channel == channel and s.reason == reason)

    def suppression_reasons(self) -> Counter[tuple[Channel, str]]:
        return Counter(
            (s.channel, s.detail or "unknown") for s in self.skipped if s.reason == SUPPRESSED
        )


def address_of(guest: GuestFacts, channel: Channel) -> str | None:
    return guest.email if channel == Channel.EMAIL else guest.phone


def plan_recipients(
    guests: Iterable[GuestFacts],
    channels: Iterable[Channel],
    *,
    suppressed: Mapping[tuple[Channel, str], str],
    sms_consent: frozenset[int],
) -> RecipientPlan:
    chosen = [channel for channel in Channel if channel in set(channels)]
    deliveries: list[PlannedDelivery] = []
    skipped: list[SkippedDelivery] = []
    for guest in guests:
        eligible: list[PlannedDelivery] = []
        for channel in chosen:
            address = address_of(guest, channel)
            if address is None:
                skipped.append(SkippedDelivery(guest, channel, NO_ADDRESS))
            elif (channel, address) in suppressed:
                skipped.append(
                    SkippedDelivery(guest, channel, SUPPRESSED, suppressed[channel, address])
                )
            elif channel == Channel.SMS and guest.id not in sms_consent:
                # TCPA: no texts without the guest's agreement on record.
                skipped.append(SkippedDelivery(guest, channel, NO_SMS_CONSENT))
            else:
                eligible.append(PlannedDelivery(guest, channel, address))
        # A stated preference wins when it can be honoured; otherwise the
        # guest still hears about the wedding on the channel that works.
        preferred = [d for d in eligible if d.channel.value == guest.preferred_channel]
        for delivery in eligible:
            if preferred and delivery not in preferred:
                skipped.append(SkippedDelivery(guest, delivery.channel, PREFERS_OTHER_CHANNEL))
            else:
                deliveries.append(delivery)
    return RecipientPlan(tuple(deliveries), tuple(skipped))

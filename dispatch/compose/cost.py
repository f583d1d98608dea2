"""What an SMS campaign will cost, and which characters make it dearer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import phonenumbers
from babel.numbers import format_currency

from dispatch.compose.sms_segments import sms_segments

# GSM-7 stand-ins for the characters word processors put in by themselves.
GSM_REPLACEMENTS = {
    "‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-",
    "…": "...", "\u00a0": " ", "•": "-", "´": "'", "`": "'",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SavingHint:
    characters: tuple[str, ...]
    guests: int
    segments_now: int
    segments_without: int

    def __str__(self) -> str:
        names = ", ".join(f"“{c}”" for c in self.characters)
        verb = "forces" if len(self.characters) == 1 else "force"
        return (
            f"{names} {verb} UCS-2: {self.segments_now} segment"
            f"{'s' if self.segments_now != 1 else ''} instead of {self.segments_without} "
            f"for {self.guests} guest{'s' if self.guests != 1 else ''}"
        )


@dataclass(frozen=True, slots=True)
class PricedSms:
    phone: str  # E.164: its country sets the price
    text: str
    # Characters that come from the guest (their name…): a saving never
    # depends on changing those.
    guest_characters: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SmsCost:
    messages: int
    segments: int
    total: Decimal
    currency: str
    savings: tuple[SavingHint, ...]
    # The longest message's segments.
    most_segments: int = 0
    # How many texts need UCS-2: in all, and because of what the planner wrote
    # (the rest only because of the guest's own details, such as a name with a
    # “ë”, which nobody should change).
    ucs2_texts: int = 0
    ucs2_texts_by_planner: int = 0
    # The guests' own characters that forced UCS-2, the most frequent first.
    guest_ucs2_characters: tuple[str, ...] = ()

    @property
    def amount(self) -> str:
        """The estimate as every view shows it: “$0.06”, “CA$12.50”."""
        return format_currency(self.total, self.currency, locale="en")

    @property
    def ucs2(self) -> bool:
        """Whether any text needs UCS-2."""
        return self.ucs2_texts > 0


# Previews of a wedding price the same numbers again and again; parsing one
# is most of the cost of its price. Enough for the largest tier's campaign.
@lru_cache(maxsize=16384)
def region_of(phone: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return None


def price_for(phone: str, prices: Mapping[str, Decimal]) -> Decimal:
    return prices.get(region_of(phone) or "", prices.get("default", Decimal(0)))


def without_ucs2(text: str, characters: Sequence[str]) -> str:
    for character in characters:
        text = text.replace(character, GSM_REPLACEMENTS.get(character, ""))
    return text


def estimate_sms_cost(
    messages: Sequence[PricedSms],
    prices: Mapping[str, Decimal],
    changeable: Container[str] | None = None,
    currency: str = "USD",
) -> SmsCost:
    """One message per recipient. ``changeable`` holds the characters the planner wrote
    (template, wedding details); a saving is only suggested by changing those.
    None means every character is the planner's."""
    total = Decimal(0)
    segments = 0
    most = 0
    ucs2_texts = ucs2_texts_by_planner = 0
    guests_own: Counter[str] = Counter()
    hints: Counter[tuple[tuple[str, ...], int, int]] = Counter()
    for message in messages:
        counted = sms_segments(message.text)
        segments += counted.segments
        most = max(most, counted.segments)
        total += counted.segments * price_for(message.phone, prices)
        if counted.encoding != "UCS-2":
            continue
        ucs2_texts += 1
        ours = tuple(
            c
            for c in counted.ucs2_characters
            if (changeable is None or c in changeable) and c not in message.guest_characters
        )
        guests_own.update(c for c in counted.ucs2_characters if c in message.guest_characters)
        if ours:
            ucs2_texts_by_planner += 1
            cheaper = sms_segments(without_ucs2(message.text, ours))
            if cheaper.segments < counted.segments:
                hints[ours, counted.segments, cheaper.segments] += 1
    savings = tuple(
        SavingHint(characters, guests, now, without)
        for (characters, now, without), guests in hints.most_common(3)
    )
    return SmsCost(
        len(messages),
        segments,
        total.quantize(Decimal("0.01")),
        currency,
        savings,
        most,
        ucs2_texts=ucs2_texts,
        ucs2_texts_by_planner=ucs2_texts_by_planner,
        guest_ucs2_characters=tuple(c for c, _ in guests_own.most_common(3)),
    )

"""Tier limits of the product, as data.

Enforced by dispatch: recipients per campaign at approval, messages per hour
and per day at claim time.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.enums import Tier


@dataclass(frozen=True, slots=True)
class TierLimits:
    recipients_per_campaign: int
    messages_per_hour: int
    messages_per_day: int


TIER_LIMITS: dict[Tier, TierLimits] = {
    Tier.FREE: TierLimits(recipients_per_campaign=100, messages_per_hour=50, messages_per_day=200),
    Tier.STARTER: TierLimits(
        recipients_per_campaign=500, messages_per_hour=200, messages_per_day=1000
    ),
    Tier.PROFESSIONAL: TierLimits(
        recipients_per_campaign=2000, messages_per_hour=500, messages_per_day=5000
    ),
    Tier.ENTERPRISE: TierLimits(
        recipients_per_campaign=10000, messages_per_hour=2000, messages_per_day=20000
    ),
}


def limits_for(tier: Tier) -> TierLimits:
    return TIER_LIMITS[tier]

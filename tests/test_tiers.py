"""Tier limits are the product's, as data."""

from __future__ import annotations

from store.enums import Tier
from store.tiers import TierLimits, limits_for


def test_tier_limits_match_the_product_definition() -> None:
    assert {tier: limits_for(tier) for tier in Tier} == {
        Tier.FREE: TierLimits(100, 50, 200),
        Tier.STARTER: TierLimits(500, 200, 1000),
        Tier.PROFESSIONAL: TierLimits(2000, 500, 5000),
        Tier.ENTERPRISE: TierLimits(10000, 2000, 20000),
    }

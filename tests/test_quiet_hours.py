"""Quiet hours in the guest's own time, for numbers that say where they are and those that don't."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dispatch.compose.quiet_hours import guest_zones, in_quiet_hours, next_allowed

MOSCOW_MOBILE = "+79161234567"  # Russian mobiles span eleven time zones


def test_a_guests_own_time_zone_comes_first() -> None:
    assert guest_zones("Asia/Tokyo", "+12015550100", "UTC") == [ZoneInfo("Asia/Tokyo")]


def test_a_number_in_one_zone_uses_it() -> None:
    assert guest_zones(None, "+12015550100", "UTC") == [ZoneInfo("America/New_York")]


def test_a_number_spanning_zones_is_quiet_if_any_zone_is_asleep() -> None:
    zones = guest_zones(None, MOSCOW_MOBILE, "UTC")
    assert len(zones) > 5
    half_past_six_in_moscow = datetime(2027, 4, 2, 3, 30, tzinfo=UTC)
    assert in_quiet_hours(half_past_six_in_moscow, zones)


def test_the_weddings_zone_wins_among_a_numbers_zones() -> None:
    assert guest_zones(None, MOSCOW_MOBILE, "Europe/Moscow") == [ZoneInfo("Europe/Moscow")]


def test_no_clue_means_the_weddings_zone() -> None:
    assert guest_zones(None, None, "Europe/London") == [ZoneInfo("Europe/London")]


def test_texts_wait_until_eight_in_the_guests_morning() -> None:
    new_york = [ZoneInfo("America/New_York")]
    eleven_pm = datetime(2027, 4, 2, 3, 0, tzinfo=UTC)
    assert next_allowed(eleven_pm, new_york) == datetime(2027, 4, 2, 12, 0, tzinfo=UTC)
    daytime = datetime(2027, 4, 2, 15, 0, tzinfo=UTC)
    assert next_allowed(daytime, new_york) == daytime

"""Quiet hours: no marketing texts before 08:00 or from 21:00 in the guest's own time (TCPA)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones

QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)


# A preview checks every guest of a wedding: the cache holds the largest tier's campaign.
@lru_cache(maxsize=16384)
def zones_for_phone(phone: str) -> tuple[str, ...]:
    """The time zones a number may be in, by its numbering plan (area codes say)."""
    try:
        zones = phone_timezones.time_zones_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return ()
    return tuple(zone for zone in zones if zone != "Etc/Unknown")


def guest_zones(guest_timezone: str | None, phone: str | None, fallback: str) -> list[ZoneInfo]:
    """The guest's own zone if known; else the zone of their number; else the wedding's.

    A number that spans several zones (a Russian or Australian mobile, a US
    toll-free number) is taken to be in the wedding's zone when that is one of
    them, and otherwise in all of them.
    """
    candidates: tuple[str, ...]
    if guest_timezone:
        candidates = (guest_timezone,)
    else:
        candidates = zones_for_phone(phone) if phone else ()
        if len(candidates) > 1 and fallback in candidates:
            candidates = (fallback,)
    zones = [_zone(name) for name in candidates]
    known = [zone for zone in zones if zone is not None]
    return known or [_zone(fallback) or ZoneInfo("UTC")]


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def in_quiet_hours(moment: datetime, zones: list[ZoneInfo]) -> bool:
    """Quiet if it is quiet time in any zone the guest may be in."""
    for zone in zones:
        local = moment.astimezone(zone).time()
        if local >= QUIET_FROM or local < QUIET_UNTIL:
            return True
    return False


def next_allowed(moment: datetime, zones: list[ZoneInfo]) -> datetime:
    """The first quarter hour from ``moment`` that is daytime in every zone; where the
    zones are too far apart for that, the first in the most of them."""
    if not in_quiet_hours(moment, zones):
        return moment
    start = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    best, best_awake = moment, -1
    for step in range(1, 4 * 48 + 1):
        candidate = start + timedelta(minutes=15 * step)
        awake = sum(1 for zone in zones if not in_quiet_hours(candidate, [zone]))
        if awake == len(zones):
            return candidate
        if awake > best_awake:
            best, best_awake = candidate, awake
    return best

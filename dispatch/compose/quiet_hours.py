"""Quiet hours: no marketing texts before 08:00 or from 21:00 in the guest's own time (TCPA)."""

from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones

QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)


@lru_cache(maxsize=4096)
def zone_for_phone(phone: str) -> str | None:
    """The time zone a number belongs to, when the numbering plan says (area codes do)."""
    try:
        zones = phone_timezones.time_zones_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return None
    known = [zone for zone in zones if zone != "Etc/Unknown"]
    return known[0] if known else None


def guest_zone(guest_timezone: str | None, phone: str | None, fallback: str) -> ZoneInfo:
    for name in (guest_timezone, zone_for_phone(phone) if phone else None, fallback):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def in_quiet_hours(moment: datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone).time()
    return local >= QUIET_FROM or local < QUIET_UNTIL

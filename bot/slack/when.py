"""Reading "saturday 10am" in the wedding's time zone, and writing a date back in full.

A planner types the wall-clock time where the wedding is; the bot answers
with the absolute date and the zone's name, so "Saturday" is never read as
the wrong Saturday or the wrong zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dateparser

from bot.slack.errors import SlackBotError


class UnreadableTime(SlackBotError):
    """A schedule the bot could not read, or one that is not in the future."""


def parse_when(text: str, zone: str, now: datetime) -> datetime:
    """``text`` as a moment in UTC; it must lie after ``now``."""
    words = text.strip()
    if not words:
        raise UnreadableTime(
            "Say when, for example `schedule saturday 10am` or `schedule 2026-12-05 09:30`."
        )
    local_now = now.astimezone(ZoneInfo(zone))
    found = dateparser.parse(
        words,
        settings={
            "TIMEZONE": zone,
            "TO_TIMEZONE": "UTC",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DATES_FROM": "future",
            # dateparser reads relative words against a naive local time.
            "RELATIVE_BASE": local_now.replace(tzinfo=None),
        },
    )
    if found is None:
        raise UnreadableTime(
            f"I could not read “{words}” as a date and time. Try `saturday 10am`, "
            "`tomorrow 9:30`, `in 2 hours` or `2026-12-05 10:00`."
        )
    moment = found.astimezone(UTC)
    if moment <= now:
        raise UnreadableTime(
            f"“{words}” is {spoken(moment, zone)}, which has already passed. "
            "A campaign can only be scheduled for the future."
        )
    return moment


def spoken(moment: datetime, zone: str) -> str:
    """``Saturday 6 December 2026, 10:00 (America/New_York)``."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({zone})"

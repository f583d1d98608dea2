"""Reading one spreadsheet cell into one guest field, with a reason when it cannot be read."""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import available_timezones

from store.enums import Channel, RsvpStatus

MAX_PARTY_SIZE = 20

_TRUE = frozenset({"yes", "y", "true", "1", "x", "✓"})
_FALSE = frozenset({"no", "n", "false", "0", ""})
# Separators inside a groups cell: "family, bridal party" or "family|college".
_GROUP_SEPARATORS = re.compile(r"[,;|]")
# Export prefixes these with an apostrophe so spreadsheets show text, not a
# formula; import strips that apostrophe again so a round trip is lossless.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


class CellError(ValueError):
    """A cell that cannot be read; the message is shown to the planner as is."""


def unescape_formula(value: str) -> str:
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_TRIGGERS:
        return value[1:]
    return value


def read_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise CellError(f"“{value}” is not yes or no")


def read_rsvp(value: str) -> RsvpStatus:
    try:
        return RsvpStatus(value.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in RsvpStatus)
        raise CellError(f"“{value}” is not one of {allowed}") from None


def read_channel(value: str) -> Channel:
    try:
        return Channel(value.strip().lower())
    except ValueError:
        raise CellError(f"“{value}” is not email or sms") from None


def read_party_size(value: str) -> int:
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_PARTY_SIZE:
        raise CellError(f"“{value}” is not a whole number from 1 to {MAX_PARTY_SIZE}")
    return int(text)


def read_groups(value: str) -> list[str]:
    names = (" ".join(part.split()).lower() for part in _GROUP_SEPARATORS.split(value))
    return sorted({name for name in names if name})


def read_timezone(value: str) -> str:
    name = value.strip()
    if name not in _zone_names():
        raise CellError(f"“{value}” is not a time zone name such as Europe/London")
    return name


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())

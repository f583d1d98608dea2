"""Reading one spreadsheet cell into one guest field, with a reason when it cannot be read."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from zoneinfo import available_timezones

from store.enums import Channel, RsvpStatus

MAX_PARTY_SIZE = 20
MAX_GROUP_NAME = 100  # guest_groups.name
MAX_TEXT_CELL = 1000
NO_DIETARY_NEEDS = frozenset({"none", "n/a", "na", "-", "no", "nil", "null", "nothing"})
# C0 and C1 controls except tab and line feed, and bidi embeddings/overrides/isolates.
_UNSAFE_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

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
    if not re.fullmatch(r"[0-9]{1,2}", text) or not 1 <= int(text) <= MAX_PARTY_SIZE:
        raise CellError(f"“{value}” is not a whole number from 1 to {MAX_PARTY_SIZE}")
    return int(text)


def read_groups(value: str) -> list[str]:
    names = {" ".join(part.split()).lower() for part in _GROUP_SEPARATORS.split(value)}
    names.discard("")
    too_long = [name for name in names if len(name) > MAX_GROUP_NAME]
    if too_long:
        raise CellError(f"a group name is longer than {MAX_GROUP_NAME} characters")
    return sorted(names)


def read_dietary(value: str) -> str:
    """Free text; the ways people write "nothing" become an empty text, not a need."""
    text = value.strip()
    if text.lower().strip(".") in NO_DIETARY_NEEDS:
        return ""
    if len(text) > MAX_TEXT_CELL:
        raise CellError(f"the text is longer than {MAX_TEXT_CELL} characters")
    return text


def clean_cell(value: str) -> str:
    """Drop control characters and bidirectional overrides, keeping line breaks and tabs.

    Terminal escapes or a right-to-left override in a name would be echoed into
    CLI output and Slack; nothing legitimate in a guest list needs them.
    """
    return _UNSAFE_CHARACTERS.sub("", value)


def has_letters(value: str) -> bool:
    return any(unicodedata.category(c)[0] in {"L", "N"} for c in value)


def read_timezone(value: str) -> str:
    name = value.strip()
    if name not in _zone_names():
        raise CellError(f"“{value}” is not a time zone name such as Europe/London")
    return name


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())

"""The details a planner may change from Slack, each with how it is read and shown.

One table serves ``wedding set`` and ``org set``: the reader turns what was
typed into the stored value or raises ``ValueError`` with a sentence for the
planner, so every refusal names the field and says what would be accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Any
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError

from store.addresses import AddressError, normalise_email, normalise_phone
from store.guestlist.cells import CellError, read_timezone

# What a planner types to empty an optional detail.
CLEAR = frozenset({"none", "clear", "-"})
_CHANNEL_LINK = re.compile(r"^<#([CG][A-Z0-9]{2,30})(?:\|[^>]*)?>$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,30}$")

Reader = Callable[[str, str], Any]  # (typed text, organisation's default country) → value


@dataclass(frozen=True, slots=True)
class Detail:
    name: str  # as typed: "rsvp-deadline"
    attribute: str  # the model's column: "rsvp_deadline"
    example: str  # "2027-05-01"
    read: Reader
    optional: bool = True
    empty: Any = None  # stored when cleared ("" for columns that hold no NULL)

    def parse(self, typed: str, country: str) -> Any:
        if typed.strip().lower() in CLEAR:
            if not self.optional:
                raise ValueError(f"{self.name} cannot be empty")
            return self.empty
        return self.read(typed.strip(), country)


def show(value: Any) -> str:
    """A stored value as the planner reads it back (and as the audit log keeps it)."""
    if value is None or value == "":
        return "(not set)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def plain(value: Any) -> Any:
    """JSON-friendly for the audit log."""
    return value.isoformat() if isinstance(value, date | time) else value


def _text(limit: int) -> Reader:
    def read(typed: str, _country: str) -> str:
        if len(typed) > limit:
            raise ValueError(f"it is {len(typed)} characters long; at most {limit} fit")
        return typed

    return read


def _date(typed: str, _country: str) -> date:
    try:
        return date.fromisoformat(typed)
    except ValueError:
        raise ValueError(f"“{typed}” is not a date written as YYYY-MM-DD") from None


def _time(typed: str, _country: str) -> time:
    try:
        return time.fromisoformat(typed)
    except ValueError:
        raise ValueError(f"“{typed}” is not a time written as HH:MM (24-hour)") from None


def _url(typed: str, _country: str) -> str:
    parts = urlsplit(typed.strip("<>").split("|", 1)[0])  # Slack wraps links as <url|text>
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"“{typed}” is not a web address starting with https://")
    return parts.geturl()


def _timezone(typed: str, _country: str) -> str:
    try:
        return read_timezone(typed)
    except CellError as error:
        raise ValueError(str(error)) from None


def _locale(typed: str, _country: str) -> str:
    try:
        return str(Locale.parse(typed.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"“{typed}” is not a locale such as en_US or fr_FR") from None


def _channel(typed: str, _country: str) -> str:
    link = _CHANNEL_LINK.match(typed)
    if link:
        return link.group(1)
    if _CHANNEL_ID.match(typed):
        return typed
    raise ValueError(
        f"“{typed}” is not a channel I can find: pick it from Slack's list as you type #, "
        "so that it becomes a link, or give the channel id (C…)"
    )


_ON = frozenset({"on", "yes", "true"})
_OFF = frozenset({"off", "no", "false"})


def _switch(typed: str, _country: str) -> bool:
    word = typed.lower()
    if word in _ON | _OFF:
        return word in _ON
    raise ValueError(f"“{typed}” is neither on nor off")


def _email(typed: str, _country: str) -> str:
    try:
        return normalise_email(typed.strip("<>").removeprefix("mailto:").split("|", 1)[0])
    except AddressError as error:
        raise ValueError(str(error)) from None


def _phone(typed: str, country: str) -> str:
    try:
        return normalise_phone(typed, country)
    except AddressError as error:
        raise ValueError(str(error)) from None


WEDDING_DETAILS = {
    detail.name: detail
    for detail in (
        Detail("couple", "couple_names", '"Alex & Sam"', _text(200), optional=False),
        Detail("date", "wedding_date", "2027-06-12", _date, optional=False),
        Detail("ceremony-time", "ceremony_time", "16:00", _time),
        Detail("venue", "venue_name", '"The Barn"', _text(200), optional=False),
        Detail("venue-address", "venue_address", '"1 Farm Lane, Hudson NY"', _text(1000)),
        Detail("reception", "reception_venue", '"The Orchard"', _text(200)),
        Detail("rsvp-deadline", "rsvp_deadline", "2027-05-01", _date),
        Detail("rsvp-link", "rsvp_link", "https://example.com/rsvp", _url),
        Detail("parking", "parking_instructions", '"Park in the north field"', _text(1000)),
        Detail("hashtag", "hashtag", "#AlexAndSam", _text(100)),
        Detail("timezone", "timezone", "America/New_York", _timezone, optional=False),
        Detail("locale", "locale", "en_US", _locale),
        Detail("channel", "slack_channel_id", "#alex-and-sam", _channel),
    )
}

ORGANISATION_DETAILS = {
    detail.name: detail
    for detail in (
        Detail("sms-number", "sms_number", "+12015550100", _phone),
        Detail("name", "name", '"Blossom Weddings"', _text(200), optional=False),
        Detail("sender-name", "sender_name", '"Blossom Weddings"', _text(200), empty=""),
        Detail("sender-email", "sender_email", "hello@example.com", _email, empty=""),
        Detail("contact-email", "contact_email", "help@example.com", _email),
        Detail("contact-phone", "contact_phone", "+12015550101", _phone),
        # CAN-SPAM: commercial email must carry it, so it can be changed, never emptied.
        Detail(
            "postal-address",
            "postal_address",
            '"1 Main St, Hudson NY 12534"',
            _text(1000),
            optional=False,
        ),
        Detail("timezone", "timezone", "America/New_York", _timezone, optional=False),
        # Open and click tracking of emails (privacy: off until an admin says so).
        Detail("tracking", "email_tracking", "on", _switch, optional=False),
    )
}

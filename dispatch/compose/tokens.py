"""The values a template can use: wedding details and the guest's own fields, as text.

Every value is a plain string, formatted for the wedding's locale with babel,
so a template can print it but never reach the Python object behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

from store.models import Guest, Organisation, Wedding

# Tokens every template may use, whatever the guest list holds.
WEDDING_TOKENS = (
    "guest_name",
    "first_name",
    "wedding_date",
    "venue_name",
    "ceremony_time",
    "rsvp_deadline",
    "rsvp_link",
    "couple_names",
    "parking_instructions",
    "reception_venue",
    "wedding_hashtag",
)
GUEST_FIELDS = (
    "name",
    "email",
    "phone",
    "rsvp_status",
    "party_size",
    "dietary_requirements",
    "plus_one",
    "groups",
    "timezone",
)
STANDARD_TOKENS = frozenset(WEDDING_TOKENS + GUEST_FIELDS)


@dataclass(frozen=True, slots=True)
class WeddingFacts:
    couple_names: str
    wedding_date: date
    ceremony_time: time | None
    venue_name: str
    reception_venue: str | None
    rsvp_deadline: date | None
    rsvp_link: str | None
    parking_instructions: str | None
    hashtag: str | None
    timezone: str
    locale: str

    @classmethod
    def of(cls, wedding: Wedding, organisation: Organisation) -> WeddingFacts:
        return cls(
            couple_names=wedding.couple_names,
            wedding_date=wedding.wedding_date,
            ceremony_time=wedding.ceremony_time,
            venue_name=wedding.venue_name,
            reception_venue=wedding.reception_venue,
            rsvp_deadline=wedding.rsvp_deadline,
            rsvp_link=wedding.rsvp_link,
            parking_instructions=wedding.parking_instructions,
            hashtag=wedding.hashtag,
            timezone=wedding.timezone,
            locale=wedding.locale or organisation.locale,
        )

    def babel_locale(self) -> Locale:
        try:
            return Locale.parse(self.locale)
        except (UnknownLocaleError, ValueError):
            return Locale.parse("en_US")


@dataclass(frozen=True, slots=True)
class GuestFacts:
    id: int
    name: str
    email: str | None = None
    phone: str | None = None
    rsvp_status: str = "pending"
    party_size: int = 1
    dietary_requirements: str | None = None
    plus_one: bool = False
    groups: Sequence[str] = ()
    timezone: str | None = None
    preferred_channel: str | None = None
    custom_fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, guest: Guest, groups: Sequence[str] = ()) -> GuestFacts:
        return cls(
            id=guest.id,
            name=guest.name,
            email=guest.email,
            phone=guest.phone,
            rsvp_status=guest.rsvp_status.value,
            party_size=guest.party_size,
            dietary_requirements=guest.dietary_requirements,
            plus_one=guest.plus_one,
            groups=tuple(groups),
            timezone=guest.timezone,
            preferred_channel=guest.preferred_channel.value if guest.preferred_channel else None,
            custom_fields=dict(guest.custom_fields),
        )


def _plain_spaces(text: str) -> str:
    # CLDR puts narrow and no-break spaces in dates and times ("4:00\u202fPM");
    # one such character would switch an SMS to UCS-2 and double its cost.
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def wedding_values(wedding: WeddingFacts) -> dict[str, str]:
    """The wedding's tokens, formatted once per campaign rather than per guest."""
    locale = wedding.babel_locale()
    values = {
        "couple_names": wedding.couple_names,
        "wedding_date": format_date(wedding.wedding_date, "full", locale=locale),
        "ceremony_time": (
            format_time(wedding.ceremony_time, "short", locale=locale)
            if wedding.ceremony_time
            else ""
        ),
        "venue_name": wedding.venue_name,
        "reception_venue": wedding.reception_venue or "",
        "rsvp_deadline": (
            format_date(wedding.rsvp_deadline, "long", locale=locale)
            if wedding.rsvp_deadline
            else ""
        ),
        "rsvp_link": wedding.rsvp_link or "",
        "parking_instructions": wedding.parking_instructions or "",
        "wedding_hashtag": wedding.hashtag or "",
    }
    return {key: _plain_spaces(value) for key, value in values.items()}


def guest_values(guest: GuestFacts) -> dict[str, str]:
    # Custom columns first, so a column named like a standard token cannot
    # replace what the product means by it.
    values = {
        key: "" if value is None else str(value) for key, value in guest.custom_fields.items()
    }
    values.update(
        {
            "guest_name": guest.name,
            "first_name": guest.name.split()[0] if guest.name.split() else "",
            "name": guest.name,
            "email": guest.email or "",
            "phone": guest.phone or "",
            "rsvp_status": guest.rsvp_status,
            "party_size": str(guest.party_size),
            "dietary_requirements": guest.dietary_requirements or "",
            "plus_one": "yes" if guest.plus_one else "no",
            "groups": ", ".join(guest.groups),
            "timezone": guest.timezone or "",
        }
    )
    return values


def token_values(wedding: Mapping[str, str], guest: GuestFacts) -> dict[str, str]:
    """Everything a template may print for this guest; ``wedding`` from ``wedding_values``."""
    return {**guest_values(guest), **wedding}

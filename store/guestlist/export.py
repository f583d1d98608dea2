"""Exporting a wedding's guests as CSV (safe to open in a spreadsheet) or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from store.guestlist.cells import FORMULA_TRIGGERS
from store.repositories.guests import groups_by_guest
from store.segments import Segment, by_name, parse_segment, segment_guests

EVERYONE = parse_segment("")

CSV_COLUMNS = (
    "name",
    "email",
    "phone",
    "rsvp_status",
    "party_size",
    "dietary_requirements",
    "plus_one",
    "groups",
    "timezone",
    "preferred_channel",
)


@dataclass(frozen=True, slots=True)
class ExportedGuest:
    name: str
    email: str | None
    phone: str | None
    rsvp_status: str
    party_size: int
    dietary_requirements: str | None
    plus_one: bool
    groups: list[str]
    timezone: str | None
    preferred_channel: str | None
    custom_fields: dict[str, Any]


async def load_guests(
    session: AsyncSession, wedding_id: int, segment: Segment = EVERYONE
) -> list[ExportedGuest]:
    """The wedding's guests in the segment (default: all), by name."""
    guests = by_name(await segment_guests(session, wedding_id, segment))
    groups = await groups_by_guest(session, wedding_id)
    return [
        ExportedGuest(
            name=guest.name,
            email=guest.email,
            phone=guest.phone,
            rsvp_status=guest.rsvp_status.value,
            party_size=guest.party_size,
            dietary_requirements=guest.dietary_requirements,
            plus_one=guest.plus_one,
            groups=groups.get(guest.id, []),
            timezone=guest.timezone,
            preferred_channel=guest.preferred_channel.value if guest.preferred_channel else None,
            custom_fields=dict(guest.custom_fields),
        )
        for guest in guests
    ]


def neutralise_formula(value: str) -> str:
    """Stop a spreadsheet from running a cell as a formula (CSV injection).

    A leading apostrophe makes Excel, LibreOffice and Sheets show the text as
    typed; the importer removes it again.
    """
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def to_csv(guests: Sequence[ExportedGuest]) -> str:
    custom = sorted({key for guest in guests for key in guest.custom_fields})
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CSV_COLUMNS, *custom])
    for guest in guests:
        cells: list[str] = [
            guest.name,
            guest.email or "",
            guest.phone or "",
            guest.rsvp_status,
            str(guest.party_size),
            guest.dietary_requirements or "",
            "yes" if guest.plus_one else "no",
            ", ".join(guest.groups),
            guest.timezone or "",
            guest.preferred_channel or "",
            *(str(guest.custom_fields.get(key, "")) for key in custom),
        ]
        writer.writerow([neutralise_formula(cell) for cell in cells])
    return buffer.getvalue()


def to_json(guests: Sequence[ExportedGuest]) -> str:
    return json.dumps([asdict(guest) for guest in guests], ensure_ascii=False, indent=2) + "\n"

"""SMS consent from a guest list: the file's ``sms_consent`` column, or a planner's
confirmation that the guests in it agreed to texts.

A record is written only where it changes what holds (the guest's latest
record), so importing the same file twice records nothing the second time.
A planner's confirmation covers the rows the file says nothing about; a
"no" in the file is recorded as a withdrawal, never overridden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import Actor
from store.enums import Channel
from store.guestlist.reader import GuestRow
from store.repositories.consents import ConsentEntry, latest_consents, record_consents

# ConsentRecord.source of each way an import knows.
FROM_COLUMN = "import"
FROM_CONFIRMATION = "import_confirmation"


@dataclass(frozen=True, slots=True)
class ConsentConfirmation:
    """Someone's statement that the file's guests with a mobile number agreed to texts."""

    text_shown: str  # the words they confirmed, kept as the evidence
    recorded_by: str  # "slack:U123", "cli"


@dataclass(frozen=True, slots=True)
class ImportedGuest:
    row: GuestRow
    guest_id: int
    has_phone: bool  # in the row or already on record


@dataclass(slots=True)
class ConsentOutcome:
    granted: int = 0
    withdrawn: int = 0
    # Guests of the file with a mobile number and, after this, no SMS consent on record.
    missing: int = 0

    def lines(self) -> list[str]:
        """What the planner reads after an import."""
        out = []
        changes = [
            f"{verb} for {_guests(count)}"
            for verb, count in (("recorded", self.granted), ("withdrawn", self.withdrawn))
            if count
        ]
        if changes:
            out.append(f"SMS consent {', '.join(changes)}.")
        if self.missing:
            has = "has" if self.missing == 1 else "have"
            out.append(
                f"{_guests(self.missing)} with a mobile number {has} no SMS consent on record, "
                "so they will not be texted."
            )
        return out


def _guests(count: int) -> str:
    return f"{count} guest{'s' * (count != 1)}"


async def apply_sms_consent(
    session: AsyncSession,
    actor: Actor,
    organisation_id: int,
    guests: Sequence[ImportedGuest],
    confirmation: ConsentConfirmation | None,
) -> ConsentOutcome:
    latest = await latest_consents(session, [g.guest_id for g in guests], Channel.SMS)
    wanted: dict[int, ConsentEntry] = {}
    for guest in guests:
        entry = _entry(actor, guest, confirmation)
        if entry is not None and latest.get(guest.guest_id) != entry.granted:
            wanted.setdefault(guest.guest_id, entry)
    entries = list(wanted.values())
    await record_consents(session, actor, organisation_id, entries)
    holds = {**latest, **{entry.guest_id: entry.granted for entry in entries}}
    return ConsentOutcome(
        granted=sum(1 for entry in entries if entry.granted),
        withdrawn=sum(1 for entry in entries if not entry.granted),
        missing=len({g.guest_id for g in guests if g.has_phone and not holds.get(g.guest_id)}),
    )


def _entry(
    actor: Actor, guest: ImportedGuest, confirmation: ConsentConfirmation | None
) -> ConsentEntry | None:
    said = guest.row.sms_consent
    if said is not None:
        answer = "yes" if said else "no"
        return ConsentEntry(
            guest.guest_id,
            Channel.SMS,
            said,
            FROM_COLUMN,
            f"sms_consent: {answer} (line {guest.row.line} of the guest list imported by {actor})",
            str(actor),
        )
    if confirmation is not None and guest.has_phone:
        return ConsentEntry(
            guest.guest_id,
            Channel.SMS,
            True,
            FROM_CONFIRMATION,
            confirmation.text_shown,
            confirmation.recorded_by,
        )
    return None

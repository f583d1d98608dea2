"""Applying a read guest list to a wedding: upsert on email or phone, audited, in bulk.

Re-importing the same file changes nothing. An empty cell never blanks what
is stored, so a partial export (say, only RSVPs) can be imported safely.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import Actor, AuditRecord
from store.enums import Channel, RsvpStatus
from store.guestlist.import_consent import (
    ConsentConfirmation,
    ConsentOutcome,
    ImportedGuest,
    apply_sms_consent,
)
from store.guestlist.import_report import ImportReport
from store.guestlist.reader import GuestRow, ParsedGuestList, RowProblem, parse_guest_csv
from store.models import Guest, GuestGroup, Organisation, Wedding
from store.models.base import utcnow
from store.models.guest import with_indexes
from store.repositories.guests import groups_by_guest
from store.repositories.suppressions import SuppressionLedger

# Scalar fields a row may set; ``None`` in a row means "leave as stored".
_FIELDS = (
    "name",
    "email",
    "phone",
    "dietary_requirements",
    "plus_one",
    "rsvp_status",
    "party_size",
    "timezone",
    "preferred_channel",
)
_CHUNK = 1000
# Rows per INSERT … RETURNING of new guests (see _insert_guests).
_INSERT_CHUNK = 100

T = TypeVar("T")


async def import_guest_csv(
    session: AsyncSession,
    actor: Actor,
    wedding: Wedding,
    data: bytes,
    *,
    sms_consent: ConsentConfirmation | None = None,
) -> ImportReport:
    """Read ``data`` and apply it; raises ``ImportRefused`` (nothing changed) for a bad file.

    ``sms_consent``: someone confirmed that the file's guests with a mobile number
    agreed to texts (recorded for rows whose sms_consent cell is empty).
    """
    parsed = await read_guest_csv(session, wedding, data)
    return await apply_guest_rows(session, actor, wedding, parsed, sms_consent=sms_consent)


async def read_guest_csv(session: AsyncSession, wedding: Wedding, data: bytes) -> ParsedGuestList:
    organisation = await session.get(Organisation, wedding.organisation_id)
    assert organisation is not None  # the foreign key guarantees it
    return parse_guest_csv(data, organisation.default_country)


async def confirm_sms_consent(
    session: AsyncSession,
    actor: Actor,
    wedding: Wedding,
    parsed: ParsedGuestList,
    confirmation: ConsentConfirmation,
) -> ConsentOutcome:
    """Record the confirmation for the guests of an already imported file (their data is
    left as it is now)."""
    stored = await _StoredGuests.load(session, wedding.id)
    guests = []
    for row in parsed.rows:
        guest_id, conflict = stored.match(row)
        if guest_id is not None and conflict is None:
            has_phone = bool(row.phone or stored.guests[guest_id]["phone"])
            guests.append(ImportedGuest(row, guest_id, has_phone))
    return await apply_sms_consent(session, actor, wedding.organisation_id, guests, confirmation)


async def apply_guest_rows(
    session: AsyncSession,
    actor: Actor,
    wedding: Wedding,
    parsed: ParsedGuestList,
    *,
    sms_consent: ConsentConfirmation | None = None,
) -> ImportReport:
    report = ImportReport(
        wedding_name=wedding.couple_names,
        problems=list(parsed.problems),
        notes=parsed.notes,
        consent_column="sms_consent" in parsed.columns,
    )
    # Two imports into one wedding at once would both read the guests, then
    # both insert: the second waits here instead (SQLite's BEGIN IMMEDIATE
    # already serialises; FOR UPDATE does it on PostgreSQL).
    await session.execute(select(Wedding.id).where(Wedding.id == wedding.id).with_for_update())
    stored = await _StoredGuests.load(session, wedding.id)
    new_rows: list[GuestRow] = []
    updates: list[tuple[dict[str, Any], dict[str, Any], list[str] | None]] = []
    matched_on_line: dict[int, int] = {}
    imported: list[ImportedGuest] = []
    for row in parsed.rows:
        guest_id, conflict = stored.match(row)
        if conflict is not None:
            report.problems.append(conflict)
            continue
        if guest_id is None:
            new_rows.append(row)
            continue
        if guest_id in matched_on_line:
            report.problems.append(
                RowProblem(
                    row.line,
                    None,
                    f"this is the same guest as line {matched_on_line[guest_id]}; "
                    "this row was skipped",
                )
            )
            continue
        matched_on_line[guest_id] = row.line
        before = stored.guests[guest_id]
        imported.append(ImportedGuest(row, guest_id, bool(row.phone or before["phone"])))
        changes = _changes(before, row)
        groups = row.groups if row.groups is not None and row.groups != before["groups"] else None
        if changes or groups is not None:
            updates.append(({"id": guest_id, **changes}, before, groups))
        else:
            report.unchanged += 1
    report.problems.sort(key=lambda problem: problem.line)

    added_ids = await _insert_guests(session, wedding.id, new_rows)
    await _update_guests(session, updates)
    report.added, report.updated = len(added_ids), len(updates)
    imported += [
        ImportedGuest(row, guest_id, row.phone is not None)
        for row, guest_id in zip(new_rows, added_ids, strict=True)
    ]
    await audit.record(
        session,
        actor,
        _audit_records(wedding, new_rows, added_ids, updates, report),
    )
    report.suppressed = await _count_suppressed(session, wedding, parsed.rows, report)
    report.consent = await apply_sms_consent(
        session, actor, wedding.organisation_id, imported, sms_consent
    )
    return report


class _StoredGuests:
    """The wedding's current guests, indexed by address for matching rows."""

    def __init__(self, guests: dict[int, dict[str, Any]]) -> None:
        self.guests = guests
        self.by_address: dict[tuple[str, str], int] = {}
        for guest_id, guest in guests.items():
            for kind in ("email", "phone"):
                if guest[kind]:
                    self.by_address[kind, guest[kind]] = guest_id

    @classmethod
    async def load(cls, session: AsyncSession, wedding_id: int) -> _StoredGuests:
        columns = [Guest.id, Guest.custom_fields, *(getattr(Guest, f) for f in _FIELDS)]
        rows = await session.execute(select(*columns).where(Guest.wedding_id == wedding_id))
        groups = await groups_by_guest(session, wedding_id)
        guests = {row.id: {**row._asdict(), "groups": groups.get(row.id, [])} for row in rows}
        return cls(guests)

    def match(self, row: GuestRow) -> tuple[int | None, RowProblem | None]:
        """The stored guest this row is about (None: a new guest), or why it is ambiguous."""
        by_email = self.by_address.get(("email", row.email)) if row.email else None
        by_phone = self.by_address.get(("phone", row.phone)) if row.phone else None
        if by_email and by_phone and by_email != by_phone:
            return None, RowProblem(
                row.line,
                "phone",
                f"the email belongs to guest “{self.guests[by_email]['name']}” but the "
                f"phone to “{self.guests[by_phone]['name']}”; this row was skipped",
            )
        guest_id = by_email or by_phone
        if guest_id is not None:
            # A row may add the address a guest did not have yet; later rows
            # with that address must find the same guest.
            for kind in ("email", "phone"):
                address = getattr(row, kind)
                if address:
                    self.by_address.setdefault((kind, address), guest_id)
        return guest_id, None


def _changes(before: dict[str, Any], row: GuestRow) -> dict[str, Any]:
    changes = {
        name: getattr(row, name)
        for name in _FIELDS
        if getattr(row, name) is not None and getattr(row, name) != before[name]
    }
    merged = {**before["custom_fields"], **row.custom_fields}
    if merged != before["custom_fields"]:
        changes["custom_fields"] = merged
    return changes


def _new_guest_values(wedding_id: int, row: GuestRow) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: getattr(row, name) for name in _FIELDS if getattr(row, name) is not None
    }
    now = utcnow()
    return {
        "wedding_id": wedding_id,
        "custom_fields": row.custom_fields,
        "rsvp_status": RsvpStatus.PENDING,
        "party_size": 1,
        "plus_one": False,
        "email": None,
        "phone": None,
        "dietary_requirements": None,
        "timezone": None,
        "preferred_channel": None,
        "created_at": now,
        "updated_at": now,
        **values,
    }


async def _insert_guests(
    session: AsyncSession, wedding_id: int, rows: Sequence[GuestRow]
) -> list[int]:
    if not rows:
        return []
    values = [with_indexes(_new_guest_values(wedding_id, row)) for row in rows]
    ids: list[int] = []
    # In chunks: on SQLite, SQLAlchemy inserts these one row at a time (ids in
    # the parameters' order) and splices each RETURNING row onto all the rows
    # before it, so one statement for a whole list costs time quadratic in its size.
    for start in range(0, len(values), _INSERT_CHUNK):
        result = await session.execute(
            insert(Guest).returning(Guest.id, sort_by_parameter_order=True),
            values[start : start + _INSERT_CHUNK],
        )
        ids += result.scalars()
    memberships = [
        {"guest_id": guest_id, "name": name}
        for guest_id, row in zip(ids, rows, strict=True)
        for name in row.groups or ()
    ]
    if memberships:
        await session.execute(insert(GuestGroup), memberships)
    return ids


async def _update_guests(
    session: AsyncSession,
    updates: Sequence[tuple[dict[str, Any], dict[str, Any], list[str] | None]],
) -> None:
    now = utcnow()
    scalar_updates = [with_indexes({**values, "updated_at": now}) for values, _, _ in updates]
    if scalar_updates:
        await session.execute(update(Guest), scalar_updates)
    regrouped = [(values["id"], groups) for values, _, groups in updates if groups is not None]
    for chunk in _chunks(regrouped):
        await session.execute(
            delete(GuestGroup).where(GuestGroup.guest_id.in_([guest_id for guest_id, _ in chunk]))
        )
    memberships = [
        {"guest_id": guest_id, "name": name} for guest_id, groups in regrouped for name in groups
    ]
    if memberships:
        await session.execute(insert(GuestGroup), memberships)


def _audit_records(
    wedding: Wedding,
    new_rows: Sequence[GuestRow],
    added_ids: Sequence[int],
    updates: Sequence[tuple[dict[str, Any], dict[str, Any], list[str] | None]],
    report: ImportReport,
) -> Iterator[AuditRecord]:
    organisation_id = wedding.organisation_id
    for guest_id, row in zip(added_ids, new_rows, strict=True):
        yield AuditRecord(
            organisation_id,
            "guest.created",
            "guest",
            guest_id,
            after={
                **{name: getattr(row, name) for name in _FIELDS if getattr(row, name) is not None},
                "groups": row.groups or [],
            },
        )
    for values, before, groups in updates:
        changed = {key: value for key, value in values.items() if key != "id"}
        if groups is not None:
            changed["groups"] = groups
        yield AuditRecord(
            organisation_id,
            "guest.updated",
            "guest",
            values["id"],
            before={key: before[key] for key in changed},
            after=changed,
        )
    if not added_ids and not updates:
        return  # re-importing the same file changes nothing, the audit log included
    yield AuditRecord(
        organisation_id,
        "guestlist.imported",
        "wedding",
        wedding.id,
        after={
            "added": len(added_ids),
            "updated": len(updates),
            "unchanged": report.unchanged,
            "problem_rows": len({problem.line for problem in report.problems}),
        },
    )


async def _count_suppressed(
    session: AsyncSession, wedding: Wedding, rows: Sequence[GuestRow], report: ImportReport
) -> int:
    skipped = {problem.line for problem in report.problems}
    imported = [row for row in rows if row.line not in skipped]
    suppressed = await SuppressionLedger(session).active_among(
        wedding.organisation_id,
        [(channel, address) for row in imported for channel, address in _addresses(row)],
    )
    return sum(1 for row in imported if any(pair in suppressed for pair in _addresses(row)))


def _addresses(row: GuestRow) -> list[tuple[Channel, str]]:
    pairs = [(Channel.EMAIL, row.email), (Channel.SMS, row.phone)]
    return [(channel, address) for channel, address in pairs if address is not None]


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

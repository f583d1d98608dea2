"""``guestcomms rotate-keys``: every guest's personal data under the current key.

After a new key is put first in DATA_ENCRYPTION_KEYS (and every process runs
with it), this re-encrypts each value sealed under another key — and seals
any value still in clear, such as rows restored from a backup made before
encryption — then checks that none is left, so the old key can be dropped.

Guests are taken in batches by id, each batch in its own transaction with
its rows locked (a concurrent import cannot be overwritten with what was read
before it) and its audit rows. A run that stops keeps the batches it
committed; running it again skips every row already under the current key.
Blind indexes are recomputed for the rows rewritten, and a row whose index
does not match its address is rewritten too (the index key itself is never
rotated; see store/keyring.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Text, select, type_coerce, update

from store import audit
from store.audit import Actor, AuditRecord
from store.database import Database
from store.keyring import Keyring, is_encrypted
from store.models import Guest, Wedding
from store.models.guest import INDEXED_FIELDS, with_indexes

SEALED_FIELDS = ("name", "email", "phone", "dietary_requirements")
DEFAULT_BATCH = 500


@dataclass(slots=True)
class RotationReport:
    key_id: str
    examined: int = 0
    resealed: int = 0
    # Of the resealed guests, those with some value still in clear.
    were_clear: int = 0
    # Values under a key other than the current one after the run: written by a
    # process that does not put the new key first yet.
    remaining: int = 0


async def rotate_keys(
    database: Database,
    actor: Actor,
    batch_size: int = DEFAULT_BATCH,
    on_batch: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    keyring = database.keyring
    report = RotationReport(keyring.current_key_id)
    last_id = 0
    while True:
        async with database.transaction() as session:
            rows = (
                await session.execute(
                    _raw_guests()
                    .where(Guest.id > last_id)
                    .order_by(Guest.id)
                    .limit(batch_size)
                    .with_for_update(of=Guest)
                )
            ).all()
            if not rows:
                break
            stale = [row for row in rows if _needs_resealing(keyring, row)]
            if stale:
                await session.execute(update(Guest), [_resealed(keyring, row) for row in stale])
                await audit.record(session, actor, _audit_records(keyring, stale))
        last_id = rows[-1].id
        report.examined += len(rows)
        report.resealed += len(stale)
        report.were_clear += sum(1 for row in stale if _has_clear_value(row))
        if on_batch is not None:
            on_batch(report)
    report.remaining = await count_stale_values(database)
    return report


async def count_stale_values(database: Database) -> int:
    """Guests' values in clear or under a key other than the current one."""
    keyring = database.keyring
    stale, last_id = 0, 0
    while True:
        async with database.reading() as session:
            rows = (
                await session.execute(
                    _raw_guests().where(Guest.id > last_id).order_by(Guest.id).limit(5000)
                )
            ).all()
        if not rows:
            return stale
        stale += sum(_stale_values(keyring, row) for row in rows)
        last_id = rows[-1].id


def _raw_guests() -> Any:
    """Guests' stored values as they are, not decrypted (type_coerce skips SealedText)."""
    return select(
        Guest.id,
        Guest.updated_at,
        Wedding.organisation_id,
        *(type_coerce(getattr(Guest, field), Text).label(field) for field in SEALED_FIELDS),
        *(getattr(Guest, f"{field}_index") for field in INDEXED_FIELDS),
    ).join(Wedding, Wedding.id == Guest.wedding_id)


def _stale_values(keyring: Keyring, row: Row[Any]) -> int:
    values = [getattr(row, field) for field in SEALED_FIELDS]
    return sum(
        1
        for value in values
        if value is not None
        and (not is_encrypted(value) or keyring.key_id_of(value) != keyring.current_key_id)
    )


def _needs_resealing(keyring: Keyring, row: Row[Any]) -> bool:
    """A value in clear or under another key, or an address whose index does not match
    it (missing, or left behind by an update that changed the address alone)."""
    if _stale_values(keyring, row) > 0:
        return True
    for field in INDEXED_FIELDS:
        value = getattr(row, field)
        expected = keyring.index(field, keyring.decrypt(value)) if value is not None else None
        if getattr(row, f"{field}_index") != expected:
            return True
    return False


def _has_clear_value(row: Row[Any]) -> bool:
    values = (getattr(row, field) for field in SEALED_FIELDS)
    return any(value is not None and not is_encrypted(value) for value in values)


def _resealed(keyring: Keyring, row: Row[Any]) -> dict[str, Any]:
    """The row's values in clear, for an update that seals them with the current key and
    indexes its addresses again. ``updated_at`` stays: nothing a person sees changed."""
    clear: dict[str, Any] = {"id": row.id, "updated_at": row.updated_at}
    for field in SEALED_FIELDS:
        value = getattr(row, field)
        clear[field] = (
            keyring.decrypt(value) if value is not None and is_encrypted(value) else value
        )
    return with_indexes(clear)


def _audit_records(keyring: Keyring, rows: Sequence[Row[Any]]) -> list[AuditRecord]:
    by_organisation = Counter(row.organisation_id for row in rows)
    from_clear = Counter(row.organisation_id for row in rows if _has_clear_value(row))
    return [
        AuditRecord(
            organisation_id,
            "guests.resealed",
            "organisation",
            organisation_id,
            after={
                "guests": count,
                "from_clear": from_clear[organisation_id],
                "key_id": keyring.current_key_id,
            },
        )
        for organisation_id, count in sorted(by_organisation.items())
    ]

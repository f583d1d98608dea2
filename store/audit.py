"""Writing the audit log. Callers pass the session of the change they audit.

Each row carries the id of the request it was written for: the entry points
(the HTTP middleware, which every Slack request and webhook passes through)
set ``REQUEST_ID`` for the request's task, and every row written while that
request is served takes it, without each repository passing it along. Work
not done for one request (workers, the scheduler, a group commit shared by
many requests) has none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from store import prebuilt
from store.models import AuditEntry
from store.models.base import utcnow

# Guests' personal data never enters the audit log in clear: the log says a
# field changed, not what it holds.
PERSONAL_FIELDS = frozenset(
    {"name", "email", "phone", "address", "dietary_requirements", "custom_fields", "body"}
)
REDACTED = "[redacted]"

REQUEST_ID: ContextVar[str | None] = ContextVar("audit_request_id", default=None)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: ``kind`` is slack, cli, api, guest or system."""

    kind: str
    id: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}" if self.id else self.kind


SYSTEM = Actor("system")
CLI = Actor("cli")


def redact(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {
        key: (REDACTED if key in PERSONAL_FIELDS and value not in (None, "") else value)
        for key, value in values.items()
    }


# Not frozen: one is built for each guest's reply on the webhooks' hot path, and a
# frozen dataclass's __init__ sets every field through object.__setattr__ (~4x slower).
@dataclass(slots=True)
class AuditRecord:
    organisation_id: int | None
    action: str
    entity_type: str
    entity_id: object
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None


async def record(
    session: AsyncSession,
    actor: Actor,
    records: Iterable[AuditRecord],
    *,
    request_id: str | None = None,
) -> int:
    """Append audit rows in one statement; returns how many were written."""
    return await record_each(session, ((actor, r) for r in records), request_id=request_id)


async def record_each(
    session: AsyncSession,
    entries: Iterable[tuple[Actor, AuditRecord]],
    *,
    request_id: str | None = None,
) -> int:
    """Audit rows of several actors (guests' replies in one batch) in one statement."""
    now = utcnow()
    request_id = request_id or REQUEST_ID.get()
    rows = [
        {
            "organisation_id": r.organisation_id,
            "actor": str(actor),
            "action": r.action,
            "entity_type": r.entity_type,
            "entity_id": str(r.entity_id),
            "before": redact(r.before),
            "after": redact(r.after),
            "request_id": request_id,
            "created_at": now,
        }
        for actor, r in entries
    ]
    if rows:
        # The table, not the entity: a Core executemany, no ORM bulk-insert machinery.
        await prebuilt.run(session, _ADD_ROWS, rows)
    return len(rows)


_ADD_ROWS = insert(cast(Table, AuditEntry.__table__))


async def record_one(
    session: AsyncSession,
    actor: Actor,
    audit_record: AuditRecord,
    *,
    request_id: str | None = None,
) -> None:
    await record(session, actor, [audit_record], request_id=request_id)


class _Row(Protocol):
    id: Any


RowT = TypeVar("RowT", bound=_Row)


async def add_audited(
    session: AsyncSession, actor: Actor, row: RowT, action: str, after: Mapping[str, Any]
) -> RowT:
    """Insert one ORM row and its audit row; ``action`` is ``entity.verb``.

    The organisation is the row's own ``organisation_id``, or the row itself
    when it is an organisation.
    """
    session.add(row)
    await session.flush()
    organisation_id = getattr(row, "organisation_id", row.id)
    entity_type = action.split(".", 1)[0]
    await record_one(
        session, actor, AuditRecord(organisation_id, action, entity_type, row.id, after=after)
    )
    return row

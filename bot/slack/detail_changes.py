"""Changing one detail of a wedding or an organisation: a guarded write and its audit row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.slack.detail_fields import Detail, plain
from store.audit import Actor, AuditRecord, record_one
from store.models import Organisation, Wedding


async def change_detail(
    session: AsyncSession,
    actor: Actor,
    row: Wedding | Organisation,
    detail: Detail,
    value: Any,
) -> bool:
    """Store ``value``; False (and no audit row) when it was already so."""
    before = getattr(row, detail.attribute)
    if before == value:
        return False
    model = type(row)
    await session.execute(update(model).where(model.id == row.id).values({detail.attribute: value}))
    setattr(row, detail.attribute, value)
    kind = "wedding" if isinstance(row, Wedding) else "organisation"
    organisation_id = row.organisation_id if isinstance(row, Wedding) else row.id
    await record_one(
        session,
        actor,
        AuditRecord(
            organisation_id,
            f"{kind}.updated",
            kind,
            row.id,
            before={detail.attribute: plain(before)},
            after={detail.attribute: plain(value)},
        ),
    )
    return True

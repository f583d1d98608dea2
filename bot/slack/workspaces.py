"""A workspace that installs the app becomes (or finds) its organisation.

A new team gets a new organisation named after it, and the person who
installed the app becomes its owner, so someone can add the others with
``/comms members add``. Each step writes its audit row.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import Actor, AuditRecord, record_one
from store.enums import Role
from store.models import Organisation
from store.repositories.organisations import OrganisationRepository


async def link_installed_team(
    session: AsyncSession, team_id: str, team_name: str, installer: str | None
) -> Organisation:
    linked: Organisation | None = await session.scalar(
        select(Organisation).where(Organisation.slack_team_id == team_id)
    )
    if linked is not None:
        return linked
    actor = Actor("slack", installer or team_id)
    name = team_name.strip() or team_id
    organisation = await OrganisationRepository(session).create(
        actor, slug=await _free_slug(session, name), name=name[:200]
    )
    await session.execute(
        update(Organisation).where(Organisation.id == organisation.id).values(slack_team_id=team_id)
    )
    organisation.slack_team_id = team_id
    await record_one(
        session,
        actor,
        AuditRecord(
            organisation.id,
            "organisation.slack_linked",
            "organisation",
            organisation.id,
            {"slack_team_id": None},
            {"slack_team_id": team_id},
        ),
    )
    if installer:
        await OrganisationRepository(session).add_member(
            actor, organisation.id, slack_user_id=installer, role=Role.OWNER
        )
    return organisation


async def _free_slug(session: AsyncSession, name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:56] or "workspace"
    taken = set(
        await session.scalars(select(Organisation.slug).where(Organisation.slug.like(f"{base}%")))
    )
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug

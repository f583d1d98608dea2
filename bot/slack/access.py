"""Who is asking: the Slack workspace → organisation, the Slack user → member and role."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.slack.errors import NotAMember, WorkspaceNotLinked
from store import permissions
from store.audit import Actor, AuditRecord, record_one
from store.enums import Role
from store.models import Member, Organisation
from store.permissions import Action


@dataclass(frozen=True, slots=True)
class Caller:
    """The member behind a Slack request, detached from any session."""

    organisation: Organisation
    member: Member

    @property
    def actor(self) -> Actor:
        return Actor("slack", self.member.slack_user_id)

    @property
    def role(self) -> Role:
        return self.member.role

    def require(self, action: Action) -> None:
        """Refuse (``NotAllowed``, told to the person privately) unless the role allows it."""
        permissions.require(self.member.role, action)


async def organisation_for_team(session: AsyncSession, team_id: str) -> Organisation:
    """The organisation linked to this workspace.

    A single-workspace install links itself on first use: with exactly one
    organisation and none linked yet, the workspace that holds the bot token
    is that organisation's (audited).
    """
    linked = await session.scalar(select(Organisation).where(Organisation.slack_team_id == team_id))
    if linked is not None:
        return linked
    count = await session.scalar(select(func.count()).select_from(Organisation))
    only: Organisation | None = await session.scalar(select(Organisation)) if count == 1 else None
    if only is None or only.slack_team_id is not None:
        raise WorkspaceNotLinked(team_id)
    await session.execute(
        update(Organisation).where(Organisation.id == only.id).values(slack_team_id=team_id)
    )
    only.slack_team_id = team_id
    await record_one(
        session,
        Actor("slack", team_id),
        AuditRecord(
            only.id,
            "organisation.slack_linked",
            "organisation",
            only.id,
            {"slack_team_id": None},
            {"slack_team_id": team_id},
        ),
    )
    return only


async def resolve_caller(session: AsyncSession, team_id: str, user_id: str) -> Caller:
    organisation = await organisation_for_team(session, team_id)
    member = await session.scalar(
        select(Member).where(
            Member.organisation_id == organisation.id, Member.slack_user_id == user_id
        )
    )
    if member is None:
        raise NotAMember(user_id, organisation.name)
    return Caller(organisation, member)

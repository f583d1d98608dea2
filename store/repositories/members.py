"""Members of an organisation: their roles changed and removed, each with an audit row.

Adding a member is ``OrganisationRepository.add_member``. The rules about
owners (only owners touch owners; there is always one) are the caller's,
but the count they rely on is taken here under a row lock, so two admins
demoting the last two owners at once cannot both succeed.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import Actor, AuditRecord, record_one
from store.enums import Role
from store.models import Member


class MemberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self, organisation_id: int) -> list[Member]:
        rows = await self.session.scalars(
            select(Member)
            .where(Member.organisation_id == organisation_id)
            .order_by(Member.role, Member.display_name, Member.slack_user_id)
        )
        return list(rows)

    async def by_slack_user(self, organisation_id: int, slack_user_id: str) -> Member | None:
        return await self.session.scalar(
            select(Member).where(
                Member.organisation_id == organisation_id, Member.slack_user_id == slack_user_id
            )
        )

    async def owner_count(self, organisation_id: int) -> int:
        """How many owners there are, locking their rows until the transaction ends."""
        owners = await self.session.scalars(
            select(Member.id)
            .where(Member.organisation_id == organisation_id, Member.role == Role.OWNER)
            .with_for_update()
        )
        return len(list(owners))

    async def change_role(self, actor: Actor, member: Member, role: Role) -> None:
        before = member.role
        await self.session.execute(update(Member).where(Member.id == member.id).values(role=role))
        member.role = role
        await record_one(
            self.session,
            actor,
            AuditRecord(
                member.organisation_id,
                "member.role_changed",
                "member",
                member.id,
                before={"slack_user_id": member.slack_user_id, "role": before.value},
                after={"slack_user_id": member.slack_user_id, "role": role.value},
            ),
        )

    async def remove(self, actor: Actor, member: Member) -> None:
        await self.session.execute(delete(Member).where(Member.id == member.id))
        await record_one(
            self.session,
            actor,
            AuditRecord(
                member.organisation_id,
                "member.removed",
                "member",
                member.id,
                before={"slack_user_id": member.slack_user_id, "role": member.role.value},
            ),
        )

    async def set_contact(
        self, actor: Actor, member: Member, *, email: str | None, phone: str | None
    ) -> None:
        """A member's own email and phone (where test sends go), audited; the audit
        row says they changed, not what they hold."""
        before = {"email": member.email, "phone": member.phone}
        await self.session.execute(
            update(Member).where(Member.id == member.id).values(email=email, phone=phone)
        )
        member.email, member.phone = email, phone
        await record_one(
            self.session,
            actor,
            AuditRecord(
                member.organisation_id,
                "member.contact_changed",
                "member",
                member.id,
                before={"slack_user_id": member.slack_user_id, **before},
                after={"slack_user_id": member.slack_user_id, "email": email, "phone": phone},
            ),
        )

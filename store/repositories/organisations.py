"""Organisations, their members (with roles) and their weddings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import Actor, add_audited
from store.enums import Role, Tier
from store.errors import AmbiguousWedding, NotFound
from store.models import Member, Organisation, Wedding


class OrganisationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, actor: Actor, *, slug: str, name: str, **details: Any) -> Organisation:
        organisation = Organisation(slug=slug, name=name, **details)
        return await add_audited(
            self.session,
            actor,
            organisation,
            "organisation.created",
            {"slug": slug, "name": name, "tier": details.get("tier", Tier.FREE).value},
        )

    async def by_slug(self, slug: str) -> Organisation | None:
        return await self.session.scalar(select(Organisation).where(Organisation.slug == slug))

    async def get(self, organisation_id: int) -> Organisation:
        organisation = await self.session.get(Organisation, organisation_id)
        if organisation is None:
            raise NotFound("organisation", organisation_id)
        return organisation

    async def add_member(
        self,
        actor: Actor,
        organisation_id: int,
        *,
        slack_user_id: str,
        role: Role,
        display_name: str = "",
        email: str | None = None,
        phone: str | None = None,
    ) -> Member:
        member = Member(
            organisation_id=organisation_id,
            slack_user_id=slack_user_id,
            role=role,
            display_name=display_name,
            email=email,
            phone=phone,
        )
        return await add_audited(
            self.session,
            actor,
            member,
            "member.role_granted",
            {"slack_user_id": slack_user_id, "role": role.value},
        )


class WeddingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self, actor: Actor, organisation_id: int, *, slug: str, **details: Any
    ) -> Wedding:
        wedding = Wedding(organisation_id=organisation_id, slug=slug, **details)
        return await add_audited(
            self.session,
            actor,
            wedding,
            "wedding.created",
            {"slug": slug, "couple_names": wedding.couple_names},
        )

    async def resolve(self, reference: str | None) -> Wedding:
        """Find a wedding by id, slug or ``organisation/wedding`` slug.

        With no reference, the only wedding there is; several weddings and no
        reference is an error that lists them, so the planner can pick one.
        """
        if reference is None:
            weddings = (await self.session.scalars(select(Wedding).limit(11))).all()
            if len(weddings) == 1:
                return weddings[0]
            if not weddings:
                raise NotFound("wedding", None)
            names = ", ".join(f"{w.slug} ({w.couple_names})" for w in weddings[:10])
            raise AmbiguousWedding(f"there are several weddings; name one of: {names}")
        query = select(Wedding)
        if reference.isascii() and reference.isdigit() and len(reference) <= 9:
            query = query.where(Wedding.id == int(reference))
        elif "/" in reference:
            organisation_slug, wedding_slug = reference.split("/", 1)
            query = query.join(Organisation).where(
                Organisation.slug == organisation_slug, Wedding.slug == wedding_slug
            )
        else:
            query = query.where(Wedding.slug == reference)
        matches = (await self.session.scalars(query.limit(2))).all()
        if not matches:
            raise NotFound("wedding", reference)
        if len(matches) > 1:
            raise AmbiguousWedding(
                f"several organisations have a wedding “{reference}”; "
                "write it as organisation/wedding"
            )
        return matches[0]

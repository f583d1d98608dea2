"""The demo organisation as a running bot sees it: its ids, members by Slack user, a
campaign waiting for approval, and a picture of every table to prove nothing changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from store.audit import Actor
from store.database import Database
from store.enums import Channel, Role
from store.models import Base, Member, Organisation, Wedding
from store.repositories.campaign_deletion import CampaignDeletion
from store.repositories.campaigns import CampaignRepository
from store.repositories.organisations import OrganisationRepository
from tests.dispatch_harness import draft_for_approval

# Bookkeeping that may be written beside a refused request: Slack's event
# receipts, and the per-minute figures the web process writes on its own.
_NOT_STATE = frozenset({"slack_event_receipts", "metric_buckets"})


@dataclass(frozen=True, slots=True)
class Demo:
    organisation_id: int
    wedding_id: int


async def demo(database: Database) -> Demo:
    async with database.reading() as session:
        organisation = await session.scalar(select(Organisation).order_by(Organisation.id))
        wedding = await session.scalar(select(Wedding).order_by(Wedding.id))
    assert organisation is not None, "load the demo data first"
    assert wedding is not None
    return Demo(organisation.id, wedding.id)


async def member(database: Database, slack_user_id: str) -> Member:
    async with database.reading() as session:
        found = await session.scalar(select(Member).where(Member.slack_user_id == slack_user_id))
    assert found is not None, f"{slack_user_id} is not a member"
    return found


async def add_member(database: Database, slack_user_id: str, role: Role) -> None:
    """A member the demo lacks (U_ADMIN), added as an owner would (audited)."""
    organisation_id = (await demo(database)).organisation_id
    async with database.transaction() as session:
        await OrganisationRepository(session).add_member(
            Actor("test"), organisation_id, slack_user_id=slack_user_id, role=role
        )


async def campaign_waiting_for_approval(database: Database, author: str = "U_PLANNER") -> int:
    found = await demo(database)
    return await draft_for_approval(
        database, found.organisation_id, found.wedding_id, await member(database, author)
    )


async def deleted_campaign(database: Database, author: str = "U_PLANNER") -> int:
    """A draft its author deleted (soft), as ``/comms campaign delete`` does."""
    found = await demo(database)
    by = Actor("slack", author)
    async with database.transaction() as session:
        campaign = await CampaignRepository(session).create(
            by,
            organisation_id=found.organisation_id,
            wedding_id=found.wedding_id,
            name="Save the date",
            channels=(Channel.EMAIL,),
            template_key="invitation",
            created_by_member_id=(await member(database, author)).id,
        )
        await CampaignDeletion(session).delete(campaign.id, found.organisation_id, by)
        return campaign.id


async def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: equal snapshots mean nothing changed."""
    picture: dict[str, list[tuple[Any, ...]]] = {}
    async with database.reading() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in _NOT_STATE:
                continue
            rows = await session.execute(select(table))
            picture[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return picture

"""Campaign state changes: guarded UPDATEs with one audit row each; illegal ones leave none."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import func, select

from store.campaign_states import TRANSITIONS
from store.database import Database
from store.enums import CampaignState, Channel
from store.errors import ConcurrentChange, IllegalTransition, NotFound
from store.models import AuditEntry, Campaign
from store.repositories.campaigns import CampaignRepository
from tests.factories import TEST_ACTOR, make_wedding

LEGAL = [(a, b) for a, targets in TRANSITIONS.items() for b in sorted(targets)]
ILLEGAL = [
    (a, b) for a, b in itertools.product(CampaignState, CampaignState) if b not in TRANSITIONS[a]
]


async def _campaign_in(database: Database, state: CampaignState) -> int:
    organisation, wedding = await make_wedding(database)
    async with database.transaction() as session:
        campaign = await CampaignRepository(session).create(
            TEST_ACTOR,
            organisation_id=organisation.id,
            wedding_id=wedding.id,
            name="Invitations",
            channels=[Channel.EMAIL, Channel.SMS],
        )
        # Put it straight into the state under test, outside the state machine.
        campaign.state = state
    return campaign.id


async def _audit_rows(database: Database, campaign_id: int) -> list[AuditEntry]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "campaign", AuditEntry.entity_id == str(campaign_id))
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def test_a_new_campaign_is_a_draft_with_one_audit_row(database: Database) -> None:
    campaign_id = await _campaign_in(database, CampaignState.DRAFT)
    rows = await _audit_rows(database, campaign_id)
    assert [row.action for row in rows] == ["campaign.created"]
    assert rows[0].actor == "test"


@pytest.mark.parametrize(("from_state", "to_state"), LEGAL, ids=lambda s: str(s))
async def test_legal_transition_leaves_exactly_one_audit_row(
    database: Database, from_state: CampaignState, to_state: CampaignState
) -> None:
    campaign_id = await _campaign_in(database, from_state)
    before = len(await _audit_rows(database, campaign_id))

    async with database.transaction() as session:
        campaign = await CampaignRepository(session).transition(campaign_id, to_state, TEST_ACTOR)
    assert campaign.state == to_state

    rows = await _audit_rows(database, campaign_id)
    assert len(rows) == before + 1
    assert rows[-1].action == f"campaign.{to_state.value}"
    assert rows[-1].before == {"state": from_state.value}
    assert rows[-1].after == {"state": to_state.value}


@pytest.mark.parametrize(("from_state", "to_state"), ILLEGAL, ids=lambda s: str(s))
async def test_illegal_transition_is_refused_and_changes_nothing(
    sqlite_database: Database, from_state: CampaignState, to_state: CampaignState
) -> None:
    campaign_id = await _campaign_in(sqlite_database, from_state)
    before = len(await _audit_rows(sqlite_database, campaign_id))

    with pytest.raises(IllegalTransition) as refused:
        async with sqlite_database.transaction() as session:
            await CampaignRepository(session).transition(campaign_id, to_state, TEST_ACTOR)

    assert str(refused.value) == (
        f"campaign {campaign_id} cannot go from {from_state.value} to {to_state.value}"
    )
    assert (refused.value.from_state, refused.value.to_state) == (from_state, to_state)
    assert len(await _audit_rows(sqlite_database, campaign_id)) == before
    async with sqlite_database.transaction() as session:
        stored = await session.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
    assert stored == from_state


async def test_illegal_transitions_are_refused_on_postgresql_too(database: Database) -> None:
    campaign_id = await _campaign_in(database, CampaignState.DRAFT)
    with pytest.raises(IllegalTransition, match="cannot go from draft to sending"):
        async with database.transaction() as session:
            await CampaignRepository(session).transition(
                campaign_id, CampaignState.SENDING, TEST_ACTOR
            )
    assert [r.action for r in await _audit_rows(database, campaign_id)] == ["campaign.created"]


async def test_transition_of_a_missing_campaign_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound, match="campaign 999 was not found"):
        async with database.transaction() as session:
            await CampaignRepository(session).transition(999, CampaignState.SENDING, TEST_ACTOR)


async def test_two_approvers_racing_give_one_approval(database: Database) -> None:
    campaign_id = await _campaign_in(database, CampaignState.PENDING_APPROVAL)

    async def approve() -> str:
        try:
            async with database.transaction() as session:
                await CampaignRepository(session).transition(
                    campaign_id, CampaignState.APPROVED, TEST_ACTOR
                )
        except (IllegalTransition, ConcurrentChange) as error:
            return type(error).__name__
        return "approved"

    outcomes = await asyncio.gather(*(approve() for _ in range(4)))
    assert outcomes.count("approved") == 1
    async with database.transaction() as session:
        approvals = await session.scalar(
            select(func.count()).where(
                AuditEntry.entity_id == str(campaign_id),
                AuditEntry.action == "campaign.approved",
            )
        )
    assert approvals == 1

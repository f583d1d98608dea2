"""Campaigns and their guarded state transitions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import Actor, AuditRecord, add_audited
from store.campaign_states import can_transition
from store.enums import CampaignState, Channel
from store.errors import CampaignDeleted, ConcurrentChange, IllegalTransition, NotFound
from store.models import Campaign
from store.models.base import utcnow


def not_deleted() -> ColumnElement[bool]:
    """The condition every query of campaigns carries, but restore's: deleted ones vanish."""
    return Campaign.deleted_at.is_(None)


class CampaignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        actor: Actor,
        *,
        organisation_id: int,
        wedding_id: int,
        name: str,
        channels: Iterable[Channel],
        audience: str = "",
        created_by_member_id: int | None = None,
        **content: Any,
    ) -> Campaign:
        campaign = Campaign(
            organisation_id=organisation_id,
            wedding_id=wedding_id,
            name=name,
            channels=[Channel(c).value for c in channels],
            audience=audience,
            created_by_member_id=created_by_member_id,
            state=CampaignState.DRAFT,
            **content,
        )
        return await add_audited(
            self.session,
            actor,
            campaign,
            "campaign.created",
            {"name": name, "state": CampaignState.DRAFT.value, **_jsonable(content)},
        )

    async def get(self, campaign_id: int, *, organisation_id: int | None = None) -> Campaign:
        """A campaign that is not deleted (``CampaignDeleted`` says when it is)."""
        query = select(Campaign).where(Campaign.id == campaign_id)
        if organisation_id is not None:
            query = query.where(Campaign.organisation_id == organisation_id)
        campaign = await self.session.scalar(query)
        if campaign is None:
            raise NotFound("campaign", campaign_id)
        if campaign.deleted_at is not None:
            raise CampaignDeleted(campaign_id)
        return campaign

    async def transition(
        self,
        campaign_id: int,
        to_state: CampaignState,
        actor: Actor,
        *,
        changes: Mapping[str, Any] | None = None,
        action: str | None = None,
    ) -> Campaign:
        """Move a campaign to ``to_state`` with a guarded UPDATE and one audit row.

        The from-state read here is repeated in the UPDATE's WHERE clause, so a
        concurrent transition makes this one fail instead of both succeeding.
        """
        row = (
            await self.session.execute(
                select(Campaign.state, Campaign.organisation_id, Campaign.deleted_at).where(
                    Campaign.id == campaign_id
                )
            )
        ).one_or_none()
        if row is None:
            raise NotFound("campaign", campaign_id)
        if row.deleted_at is not None:
            raise CampaignDeleted(campaign_id)
        from_state, organisation_id = CampaignState(row.state), row.organisation_id
        if not can_transition(from_state, to_state):
            raise IllegalTransition(campaign_id, from_state.value, to_state.value)
        values = dict(changes or {})
        result = await self.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.state == from_state, not_deleted())
            .values(state=to_state, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentChange(f"campaign {campaign_id} changed state while {actor} acted")
        await audit.record_one(
            self.session,
            actor,
            AuditRecord(
                organisation_id,
                action or f"campaign.{to_state.value}",
                "campaign",
                campaign_id,
                before={"state": from_state.value},
                after={"state": to_state.value, **_jsonable(values)},
            ),
        )
        return await self._refreshed(campaign_id)

    async def update_content(
        self, campaign_id: int, actor: Actor, changes: Mapping[str, Any]
    ) -> Campaign:
        """Change what a campaign says or whom it reaches, with one audit row.

        The state machine is not touched here: whoever edits decides whether
        the change voids an approval (see ``dispatch.editing``).
        """
        campaign = await self.get(campaign_id)
        before = {key: getattr(campaign, key) for key in changes}
        result = await self.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, not_deleted())
            .values(updated_at=utcnow(), **changes)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise CampaignDeleted(campaign_id)  # deleted between the read and this write
        await audit.record_one(
            self.session,
            actor,
            AuditRecord(
                campaign.organisation_id,
                "campaign.edited",
                "campaign",
                campaign_id,
                before=_jsonable(before),
                after=_jsonable(changes),
            ),
        )
        return await self._refreshed(campaign_id)

    async def _refreshed(self, campaign_id: int) -> Campaign:
        campaign = await self.session.scalar(
            select(Campaign)
            .where(Campaign.id == campaign_id)
            .execution_options(populate_existing=True)
        )
        assert campaign is not None  # we just updated it inside this transaction
        return campaign


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in values.items()
    }

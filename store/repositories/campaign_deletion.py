"""Deleting a campaign (softly) and bringing it back from the audit trail.

A delete marks the campaign ``deleted_at`` and writes a ``campaign.deleted``
audit row whose ``before`` holds what the campaign was (its state among it).
Restore finds the newest such row for the campaign and puts back what it
recorded, with its own ``campaign.restored`` row: the audit trail is what
makes a deletion undoable, so a deletion it does not record is not undone.
Deliveries are never touched: what was sent stays sent, and guests' replies
to it still find it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import Actor, AuditRecord
from store.campaign_states import DELETABLE_STATES
from store.enums import CampaignState
from store.errors import CampaignDeleted, ConcurrentChange, NotDeletable, NotFound, NotRestorable
from store.models import AuditEntry, Campaign
from store.models.base import utcnow
from store.repositories.campaigns import not_deleted

DELETED = "campaign.deleted"
RESTORED = "campaign.restored"
# What the delete's audit row keeps of the campaign (no guest's personal data).
SNAPSHOT = ("state", "name", "wedding_id", "channels", "audience", "template_key", "scheduled_at")


@dataclass(frozen=True, slots=True)
class DeletedCampaign:
    id: int
    name: str
    state: CampaignState
    deleted_at: datetime
    deleted_by: str  # the audit row's actor, e.g. "slack:U123"


class CampaignDeletion:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def delete(self, campaign_id: int, organisation_id: int, actor: Actor) -> Campaign:
        """Soft-delete a draft or finished campaign (guarded UPDATE plus one audit row)."""
        campaign = await self._campaign(campaign_id, organisation_id)
        if campaign.deleted_at is not None:
            raise CampaignDeleted(campaign_id)
        state = CampaignState(campaign.state)
        if state not in DELETABLE_STATES:
            raise NotDeletable(campaign_id, state.value)
        now = utcnow()
        result = await self.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.state == state, not_deleted())
            .values(deleted_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentChange(f"campaign {campaign_id} changed while {actor} deleted it")
        before = {key: _jsonable(getattr(campaign, key)) for key in SNAPSHOT}
        await audit.record_one(
            self.session,
            actor,
            AuditRecord(
                organisation_id,
                DELETED,
                "campaign",
                campaign_id,
                before={**before, "deleted_at": None},
                after={"deleted_at": now.isoformat()},
            ),
        )
        campaign.deleted_at = now
        return campaign

    async def restore(self, campaign_id: int, organisation_id: int, actor: Actor) -> Campaign:
        """Undo the newest recorded deletion: the campaign comes back in the state it had."""
        campaign = await self._campaign(campaign_id, organisation_id)
        if campaign.deleted_at is None:
            raise NotRestorable(
                f"campaign {campaign_id} is not deleted; there is nothing to restore"
            )
        entry = await self.session.scalar(
            select(AuditEntry)
            .where(
                AuditEntry.entity_type == "campaign",
                AuditEntry.entity_id == str(campaign_id),
                AuditEntry.action == DELETED,
                AuditEntry.organisation_id == organisation_id,
            )
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
        recorded = (entry.before or {}).get("state") if entry is not None else None
        if entry is None or recorded not in {state.value for state in DELETABLE_STATES}:
            raise NotRestorable(
                f"the audit trail holds no usable record of deleting campaign {campaign_id}, "
                "so it stays deleted"
            )
        state = CampaignState(recorded)
        result = await self.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.deleted_at == campaign.deleted_at)
            .values(deleted_at=None, state=state, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentChange(f"campaign {campaign_id} changed while {actor} restored it")
        await audit.record_one(
            self.session,
            actor,
            AuditRecord(
                organisation_id,
                RESTORED,
                "campaign",
                campaign_id,
                before={
                    "deleted_at": campaign.deleted_at.isoformat(),
                    "state": CampaignState(campaign.state).value,
                },
                after={"deleted_at": None, "state": state.value, "from_audit_entry": entry.id},
            ),
        )
        restored = await self.session.scalar(
            select(Campaign)
            .where(Campaign.id == campaign_id)
            .execution_options(populate_existing=True)
        )
        assert restored is not None  # updated a moment ago in this transaction
        return restored

    async def deleted(self, organisation_id: int, limit: int = 20) -> list[DeletedCampaign]:
        """The organisation's deleted campaigns, most recently deleted first."""
        campaigns = list(
            await self.session.scalars(
                select(Campaign)
                .where(
                    Campaign.organisation_id == organisation_id, Campaign.deleted_at.is_not(None)
                )
                .order_by(Campaign.deleted_at.desc(), Campaign.id.desc())
                .limit(limit)
            )
        )
        actors: dict[str, str] = {}
        if campaigns:
            rows = await self.session.execute(
                select(AuditEntry.entity_id, AuditEntry.actor)
                .where(
                    AuditEntry.entity_type == "campaign",
                    AuditEntry.action == DELETED,
                    AuditEntry.entity_id.in_([str(c.id) for c in campaigns]),
                )
                .order_by(AuditEntry.id)
            )
            actors = {str(entity_id): str(who) for entity_id, who in rows}  # the newest wins
        return [
            DeletedCampaign(
                c.id, c.name, CampaignState(c.state), c.deleted_at, actors.get(str(c.id), "")
            )
            for c in campaigns
            if c.deleted_at is not None
        ]

    async def _campaign(self, campaign_id: int, organisation_id: int) -> Campaign:
        campaign = await self.session.scalar(
            select(Campaign).where(
                Campaign.id == campaign_id, Campaign.organisation_id == organisation_id
            )
        )
        if campaign is None:
            raise NotFound("campaign", campaign_id)
        return campaign


def _jsonable(value: Any) -> Any:
    if isinstance(value, CampaignState):
        return value.value
    return value.isoformat() if hasattr(value, "isoformat") else value

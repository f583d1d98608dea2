"""Editing a campaign's content, audience or schedule — and what that does to its approval.

An approval is bound to ``content_hash``: a change that alters the hash sends
an approved (or scheduled) campaign back to draft, forgetting the delivery
rows the approval wrote; a campaign waiting for approval goes back to draft
too, since the approver would be approving something else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.approval import content_hash
from dispatch.errors import DispatchError
from store.audit import Actor
from store.campaign_states import APPROVED_STATES
from store.enums import CampaignState
from store.models import Campaign
from store.repositories.campaigns import CampaignRepository
from store.repositories.deliveries import DeliveryRepository

EDITABLE = frozenset({CampaignState.DRAFT, CampaignState.PENDING_APPROVAL, *APPROVED_STATES})
CONTENT_FIELDS = frozenset(
    {
        "name",
        "channels",
        "audience",
        "template_key",
        "email_subject",
        "email_text",
        "email_html",
        "sms_text",
        "scheduled_at",
        "day_of_logistics",
    }
)


class CampaignLocked(DispatchError):
    """The campaign has started or ended; its content can no longer change."""

    def __init__(self, campaign_id: int, state: CampaignState) -> None:
        super().__init__(
            f"Campaign {campaign_id} is {state.value.replace('_', ' ')}; what it says and whom "
            "it reaches can no longer change. Create a new campaign instead."
        )


@dataclass(frozen=True, slots=True)
class Edited:
    campaign: Campaign
    # "approved" when an approval was voided, "pending_approval" when a request
    # for approval was withdrawn, None when the state did not change.
    undone: CampaignState | None


async def edit_campaign(
    session: AsyncSession,
    campaign_id: int,
    organisation_id: int,
    actor: Actor,
    changes: Mapping[str, Any],
) -> Edited:
    unknown = set(changes) - CONTENT_FIELDS
    if unknown:
        raise ValueError(f"not campaign content: {sorted(unknown)}")
    campaigns = CampaignRepository(session)
    campaign = await campaigns.get(campaign_id, organisation_id=organisation_id)
    state = campaign.state
    if state not in EDITABLE:
        raise CampaignLocked(campaign_id, state)
    edited = await campaigns.update_content(campaign_id, actor, changes)
    if state in APPROVED_STATES and content_hash(edited) != campaign.approval_hash:
        await DeliveryRepository(session).discard_unsent(campaign_id)
        edited = await campaigns.transition(
            campaign_id,
            CampaignState.DRAFT,
            actor,
            changes={"approval_hash": None, "approved_by_member_id": None, "approved_at": None},
            action="campaign.approval_voided",
        )
        return Edited(edited, CampaignState.APPROVED)
    if state == CampaignState.PENDING_APPROVAL:
        edited = await campaigns.transition(
            campaign_id, CampaignState.DRAFT, actor, action="campaign.approval_withdrawn"
        )
        return Edited(edited, CampaignState.PENDING_APPROVAL)
    return Edited(edited, None)

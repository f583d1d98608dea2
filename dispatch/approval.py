"""Approval: a second member approves, the deliveries are written, the batches go out.

Approving checks the four-eyes rule and the compliance report, binds the
approval to a hash of the content, writes one delivery row per (guest,
channel) in bulk — the skipped ones with their reason — and, once that
transaction has committed, enqueues the batches (or leaves the campaign
scheduled for the scheduler).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.batches import enqueue_pending
from dispatch.compose.preview import preview_campaign
from dispatch.errors import DispatchError
from dispatch.recipients import SUPPRESSED, RecipientPlan
from dispatch.runtime import Runtime
from store.audit import Actor
from store.enums import CampaignState, DeliveryStatus
from store.models import Campaign, Member
from store.permissions import Action, can, roles_for, roles_words
from store.repositories.campaigns import CampaignRepository
from store.repositories.deliveries import DeliveryRepository


class ApprovalRefused(DispatchError):
    """Approval is not possible; ``reasons`` say why, in a planner's words."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(" ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class Approved:
    campaign_id: int
    state: CampaignState
    deliveries: int
    skipped: int
    batches: int


def content_hash(campaign: Campaign) -> str:
    """What an approval approves: any change to these voids it."""
    content: dict[str, Any] = {
        "channels": sorted(campaign.channels),
        "audience": campaign.audience,
        "template_key": campaign.template_key,
        "email_subject": campaign.email_subject,
        "email_text": campaign.email_text,
        "email_html": campaign.email_html,
        "sms_text": campaign.sms_text,
        "scheduled_at": campaign.scheduled_at.isoformat() if campaign.scheduled_at else None,
        "day_of_logistics": campaign.day_of_logistics,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


async def approve_campaign(
    runtime: Runtime, campaign_id: int, approver: Member, actor: Actor
) -> Approved:
    now = runtime.clock()
    async with runtime.database.transaction() as session:
        campaigns = CampaignRepository(session)
        campaign = await campaigns.get(campaign_id, organisation_id=approver.organisation_id)
        reasons = _four_eyes(campaign, approver)
        preview = await preview_campaign(session, campaign, runtime.settings, now)
        reasons += [finding.message for finding in preview.report.blocking]
        if reasons:
            raise ApprovalRefused(reasons)
        await campaigns.transition(
            campaign_id,
            CampaignState.APPROVED,
            actor,
            changes={
                "approved_by_member_id": approver.id,
                "approval_hash": content_hash(campaign),
                "approved_at": now,
            },
        )
        skipped = await _materialise(session, campaign_id, preview.plan, now)
        if campaign.scheduled_at is not None and campaign.scheduled_at > now:
            state = CampaignState.SCHEDULED
            await campaigns.transition(campaign_id, state, actor)
        else:
            state = CampaignState.SENDING
            await campaigns.transition(campaign_id, state, actor, changes={"started_at": now})
    # Only after the commit: a worker must find the rows its message names.
    batches = await enqueue_pending(runtime, campaign_id) if state == CampaignState.SENDING else 0
    return Approved(campaign_id, state, len(preview.plan.deliveries), skipped, batches)


def _four_eyes(campaign: Campaign, approver: Member) -> list[str]:
    reasons = []
    if not can(approver.role, Action.APPROVE_CAMPAIGN):
        who = approver.display_name or approver.slack_user_id
        needed = roles_words(roles_for(Action.APPROVE_CAMPAIGN))
        reasons.append(f"Approving needs the {needed} role; {who} is a {approver.role.value}.")
    if campaign.created_by_member_id == approver.id:
        reasons.append("A campaign must be approved by someone other than its author.")
    return reasons


async def _materialise(
    session: AsyncSession, campaign_id: int, plan: RecipientPlan, now: datetime
) -> int:
    """One row per (guest, channel), written with bulk statements."""
    base = {"campaign_id": campaign_id, "attempts": 0, "created_at": now, "updated_at": now}
    rows = [
        {
            **base,
            "guest_id": d.guest.id,
            "channel": d.channel,
            "address": d.address,
            "status": DeliveryStatus.PENDING,
            "skip_reason": None,
        }
        for d in plan.deliveries
    ]
    rows += [
        {
            **base,
            "guest_id": s.guest.id,
            "channel": s.channel,
            "address": (s.guest.email if s.channel.value == "email" else s.guest.phone) or "",
            "status": DeliveryStatus.SUPPRESSED
            if s.reason == SUPPRESSED
            else DeliveryStatus.SKIPPED,
            "skip_reason": s.reason if s.reason != SUPPRESSED else f"suppressed:{s.detail}",
        }
        for s in plan.skipped
    ]
    await DeliveryRepository(session).add_many(rows)
    return len(plan.skipped)

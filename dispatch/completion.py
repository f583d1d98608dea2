"""Noticing, exactly once, that a campaign has nothing left to send."""

from __future__ import annotations

from sqlalchemy import func, select

from dispatch.runtime import Runtime
from store.audit import SYSTEM
from store.enums import CampaignState, DeliveryStatus
from store.errors import ConcurrentChange, IllegalTransition
from store.models import Campaign, Delivery, Event
from store.repositories.campaigns import CampaignRepository
from store.repositories.deliveries import DeliveryRepository


async def complete_if_done(runtime: Runtime, campaign_id: int) -> bool:
    """Set the final state and counts when no delivery is waiting; True if this call did.

    The guarded transition (sending → completed) lets exactly one caller win
    when several batches finish at once; the completion event is written in
    the same transaction, so Slack hears about it once.
    """
    async with runtime.database.reading() as session:
        state = await session.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
        if state != CampaignState.SENDING:
            return False
        if await DeliveryRepository(session).any_waiting(campaign_id):
            return False
    try:
        async with runtime.database.transaction() as session:
            deliveries = DeliveryRepository(session)
            if await deliveries.any_waiting(campaign_id):
                return False
            counts = await deliveries.status_counts(campaign_id)
            deferred = await session.scalar(
                select(func.count()).where(
                    Delivery.campaign_id == campaign_id, Delivery.not_before.is_not(None)
                )
            )
            sent = counts.get(DeliveryStatus.SENT, 0) + counts.get(DeliveryStatus.DELIVERED, 0)
            failed = counts.get(DeliveryStatus.FAILED, 0) + counts.get(
                DeliveryStatus.UNDELIVERED, 0
            )
            totals = {
                "sent_count": sent,
                "failed_count": failed,
                "suppressed_count": counts.get(DeliveryStatus.SUPPRESSED, 0),
                "skipped_count": counts.get(DeliveryStatus.SKIPPED, 0)
                + counts.get(DeliveryStatus.CANCELLED, 0),
                "deferred_count": deferred or 0,
            }
            final = CampaignState.FAILED if failed and not sent else CampaignState.COMPLETED
            campaign = await CampaignRepository(session).transition(
                campaign_id,
                final,
                SYSTEM,
                changes={**totals, "completed_at": runtime.clock(), "throttled_until": None},
            )
            session.add(
                Event(
                    organisation_id=campaign.organisation_id,
                    kind=f"campaign.{final.value}",
                    payload={"campaign_id": campaign_id, **totals},
                )
            )
    except (IllegalTransition, ConcurrentChange):
        return False  # another batch completed it first
    return True

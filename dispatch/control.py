"""Starting, pausing, resuming, cancelling and retrying a campaign that was approved."""

from __future__ import annotations

from sqlalchemy import select

from dispatch.batches import enqueue_pending
from dispatch.errors import DispatchError
from dispatch.runtime import Runtime
from store.audit import Actor
from store.enums import CampaignState
from store.models import Campaign
from store.repositories.campaigns import CampaignRepository, not_deleted
from store.repositories.deliveries import DeliveryRepository


class NothingToRetry(DispatchError):
    """The campaign has no failed messages; retrying would send nothing."""

    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"Campaign {campaign_id} has no failed messages to retry.")


async def start_sending(runtime: Runtime, campaign_id: int, actor: Actor) -> int:
    """Approved or scheduled → sending, then the batches; returns how many were enqueued."""
    async with runtime.database.transaction() as session:
        await CampaignRepository(session).transition(
            campaign_id, CampaignState.SENDING, actor, changes={"started_at": runtime.clock()}
        )
    return await enqueue_pending(runtime, campaign_id)


async def pause(runtime: Runtime, campaign_id: int, actor: Actor) -> None:
    """Batches not yet claimed stop at their next look at the campaign's state."""
    async with runtime.database.transaction() as session:
        await CampaignRepository(session).transition(campaign_id, CampaignState.PAUSED, actor)


async def resume(runtime: Runtime, campaign_id: int, actor: Actor) -> int:
    async with runtime.database.transaction() as session:
        await CampaignRepository(session).transition(campaign_id, CampaignState.SENDING, actor)
    return await enqueue_pending(runtime, campaign_id)


async def cancel(runtime: Runtime, campaign_id: int, actor: Actor) -> int:
    """Cancel and mark every unclaimed delivery cancelled, in one transaction."""
    async with runtime.database.transaction() as session:
        await CampaignRepository(session).transition(campaign_id, CampaignState.CANCELLED, actor)
        return await DeliveryRepository(session).cancel_waiting(campaign_id, runtime.clock())


async def retry_failed(runtime: Runtime, campaign_id: int, actor: Actor) -> int:
    """Send the failed deliveries of a finished campaign again; returns how many.

    With none failed it refuses and changes nothing: back in sending with nothing
    to send, the campaign would wait for the reconciler to finish it a second time.
    """
    async with runtime.database.transaction() as session:
        count = await DeliveryRepository(session).retry_failed(campaign_id, runtime.clock())
        if not count:
            raise NothingToRetry(campaign_id)
        await CampaignRepository(session).transition(
            campaign_id, CampaignState.SENDING, actor, changes={"completed_at": None}
        )
    await enqueue_pending(runtime, campaign_id)
    return count


async def due_scheduled(runtime: Runtime) -> list[int]:
    async with runtime.database.reading() as session:
        rows = await session.scalars(
            select(Campaign.id).where(
                Campaign.state == CampaignState.SCHEDULED,
                Campaign.scheduled_at <= runtime.clock(),
                not_deleted(),
            )
        )
        return list(rows)


async def sending_campaigns(runtime: Runtime) -> list[int]:
    async with runtime.database.reading() as session:
        rows = await session.scalars(
            select(Campaign.id).where(Campaign.state == CampaignState.SENDING)
        )
        return list(rows)

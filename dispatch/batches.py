"""Cutting a campaign's pending deliveries into broker messages of ``batch_size``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import groupby

from dispatch.runtime import BatchRef, Runtime
from store.repositories.deliveries import DeliveryRepository


def batch_refs(campaign_id: int, ids: Sequence[int], size: int) -> list[BatchRef]:
    """Id ranges covering ``ids`` (sorted) with at most ``size`` ids each."""
    return [
        BatchRef(campaign_id, ids[start], ids[min(start + size, len(ids)) - 1])
        for start in range(0, len(ids), size)
    ]


async def enqueue_pending(runtime: Runtime, campaign_id: int, delay: float = 0) -> int:
    """Send a broker message for every range of the campaign's pending deliveries.

    Safe to call twice: a range whose rows were already claimed claims nothing.
    """
    async with runtime.database.reading() as session:
        ids = await DeliveryRepository(session).pending_ids(campaign_id)
    refs = batch_refs(campaign_id, ids, runtime.settings.batch_size)
    for ref in refs:
        runtime.enqueue(ref, delay)
    return len(refs)


def enqueue_rows(runtime: Runtime, rows: Iterable[tuple[int, int]]) -> int:
    """Broker messages for (campaign, delivery id) pairs, grouped per campaign."""
    count = 0
    for campaign_id, group in groupby(sorted(rows), key=lambda row: row[0]):
        ids = [delivery_id for _, delivery_id in group]
        for ref in batch_refs(campaign_id, ids, runtime.settings.batch_size):
            runtime.enqueue(ref, 0)
            count += 1
    return count

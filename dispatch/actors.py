"""Thin actors: ids in, one call to a service, safe to run twice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import dramatiq

from dispatch.batch import process_batch
from dispatch.runtime import BatchRef, Runtime

SEND_QUEUE = "send"


@dataclass(frozen=True)
class Actors:
    send_batch: dramatiq.Actor[[int, int, int], None]

    def enqueue_batch(self, ref: BatchRef, delay_seconds: float = 0) -> None:
        self.send_batch.send_with_options(
            args=(ref.campaign_id, ref.first_id, ref.last_id),
            delay=int(delay_seconds * 1000) or None,
        )


def declare_actors(broker: dramatiq.Broker, runtime: Callable[[], Awaitable[Runtime]]) -> Actors:
    """Register the actors on ``broker``; ``runtime`` builds (once, on the worker's event
    loop) what they need."""

    async def send_batch(campaign_id: int, first_id: int, last_id: int) -> None:
        await process_batch(await runtime(), BatchRef(campaign_id, first_id, last_id))

    register = dramatiq.actor(
        actor_name="send_batch", queue_name=SEND_QUEUE, broker=broker, max_retries=8
    )
    return Actors(send_batch=register(send_batch))

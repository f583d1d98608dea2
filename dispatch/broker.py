"""The Dramatiq broker: Redis when REDIS_URL is set, otherwise one in this process.

Middleware: retries with exponential backoff and jitter, time and age
limits, and the AsyncIO event-loop thread that runs async actors. Nothing
is lost if the in-process broker goes away with its process: the delivery
rows are the truth, and the scheduler's tick enqueues pending work again.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.middleware.asyncio import AsyncIO

# A batch paced at one SMS a second takes minutes; the lease, not this
# limit, decides when its deliveries are given up.
BATCH_TIME_LIMIT_MS = 30 * 60 * 1000
# A message older than a day is stale; the tick re-enqueues from the rows.
MAX_AGE_MS = 24 * 60 * 60 * 1000
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 5 * 60 * 1000
# A worker silent this long is dead, and the messages it held go back to the
# queue; Dramatiq checks on 10% of its commands (its default, 0.1%, can leave
# a killed worker's batches waiting for many minutes).
HEARTBEAT_TIMEOUT_MS = 15_000
MAINTENANCE_CHANCE_PER_MILLION = 100_000


def build_broker(redis_url: str | None, namespace: str = "guestcomms") -> dramatiq.Broker:
    middleware = [
        AgeLimit(max_age=MAX_AGE_MS),
        TimeLimit(time_limit=BATCH_TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=8, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
        AsyncIO(),
    ]
    broker: dramatiq.Broker
    if redis_url:
        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=redis_url,
            namespace=namespace,
            middleware=middleware,
            heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
            maintenance_chance=MAINTENANCE_CHANCE_PER_MILLION,
        )
    else:
        broker = StubBroker(middleware=middleware)
    dramatiq.set_broker(broker)
    return broker


def backlog(broker: dramatiq.Broker, queue_name: str) -> int:
    """Messages queued, delayed or being worked on (Redis), or waiting (in process)."""
    if isinstance(broker, RedisBroker):
        return int(broker.do_qsize(queue_name))
    if isinstance(broker, StubBroker):
        queues = broker.queues
        return sum(
            queues[name].qsize() for name in (queue_name, f"{queue_name}.DQ") if name in queues
        )
    return 0


# Set in Redis by the scheduler's tick; gone when Redis lost what it held.
MEMORY_MARKER = "remembers"


def forgot(broker: dramatiq.Broker) -> bool:
    """Whether the broker's store lost its messages since the last call (or this is the
    first call against it): Redis restarted without its data, or was flushed.

    The queue may hold new messages again by the time anyone looks, so an empty
    queue is no sign of a loss; a marker key that vanished is.
    """
    if not isinstance(broker, RedisBroker):
        return False  # in process: lost only with the process, whose queue starts empty
    return bool(broker.client.set(f"{broker.namespace}:{MEMORY_MARKER}", "1", nx=True))

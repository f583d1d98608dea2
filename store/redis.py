"""The shared Redis client, when REDIS_URL is configured."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from store.settings import StoreSettings

# A worker runs many batches at once, each with several sends asking the
# pacer, the limits and the breaker. redis-py's default pool refuses the
# 101st connection ("Too many connections"), which failed whole batches
# under load; this pool makes a caller wait its turn instead.
MAX_CONNECTIONS = 100
WAIT_FOR_CONNECTION_SECONDS = 10


def connect_redis(settings: StoreSettings) -> Redis | None:
    """A lazily connecting client, or None in single-process mode."""
    if not settings.redis_url:
        return None
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=MAX_CONNECTIONS,
        timeout=WAIT_FOR_CONNECTION_SECONDS,
        socket_connect_timeout=2,
        socket_timeout=2,
    )
    # from_pool: closing the client closes its pool too.
    return Redis.from_pool(pool)

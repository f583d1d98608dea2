"""The shared Redis client, when REDIS_URL is configured."""

from __future__ import annotations

from redis.asyncio import Redis

from store.settings import StoreSettings


def connect_redis(settings: StoreSettings) -> Redis | None:
    """A lazily connecting client, or None in single-process mode."""
    if not settings.redis_url:
        return None
    return Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)

"""The shared Redis client under more concurrent callers than it keeps connections."""

from __future__ import annotations

import asyncio

import pytest

from store.redis import MAX_CONNECTIONS, connect_redis
from store.settings import StoreSettings


@pytest.mark.integration
async def test_callers_beyond_the_pool_wait_their_turn_instead_of_failing(
    redis_url: str,
) -> None:
    redis = connect_redis(StoreSettings(redis_url=redis_url))
    assert redis is not None
    try:
        # BLPOP with a short timeout holds its connection, so they pile up.
        callers = [
            redis.blpop([f"gctest-nothing-{n}"], timeout=0.2) for n in range(MAX_CONNECTIONS * 2)
        ]
        assert await asyncio.gather(*callers) == [None] * (MAX_CONNECTIONS * 2)
    finally:
        await redis.aclose()

"""Tier limits: messages per hour and per day (per-sender pacing: dispatch.pacing).

In Redis when REDIS_URL is set, so every worker shares one count; in memory
otherwise (one process on a laptop). Windows are clock windows (this hour,
today in UTC), so "throttled until 14:00" is a time a planner can read.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis

from store.tiers import TierLimits

_LUA_RESERVE = """
local granted = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + i])
  local used = tonumber(redis.call('GET', key) or '0')
  granted = math.min(granted, math.max(0, limit - used))
end
if granted > 0 then
  for i, key in ipairs(KEYS) do
    redis.call('INCRBY', key, granted)
    redis.call('EXPIRE', key, tonumber(ARGV[1 + #KEYS + i]))
  end
end
return granted
"""


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int
    # When more can be sent, if less than asked was granted.
    retry_at: datetime | None


def _windows(now: datetime) -> tuple[tuple[str, datetime], tuple[str, datetime]]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    return (
        (hour.strftime("%Y%m%d%H"), hour + timedelta(hours=1)),
        (day.strftime("%Y%m%d"), day + timedelta(days=1)),
    )


class TierLimiter(Protocol):
    async def reserve(
        self, organisation_id: int, limits: TierLimits, wanted: int, now: datetime
    ) -> Grant: ...

    async def give_back(self, organisation_id: int, unused: int, now: datetime) -> None: ...


def _grant(granted: int, wanted: int, hour_used_up: bool, now: datetime) -> Grant:
    if granted >= wanted:
        return Grant(granted, None)
    (_, next_hour), (_, next_day) = _windows(now)
    return Grant(granted, next_hour if hour_used_up else next_day)


class MemoryTierLimiter:
    def __init__(self) -> None:
        self._used: defaultdict[str, int] = defaultdict(int)
        self._lock = asyncio.Lock()

    async def reserve(
        self, organisation_id: int, limits: TierLimits, wanted: int, now: datetime
    ) -> Grant:
        (hour, _), (day, _) = _windows(now)
        keys = (f"{organisation_id}:h:{hour}", f"{organisation_id}:d:{day}")
        async with self._lock:
            hour_left = limits.messages_per_hour - self._used[keys[0]]
            day_left = limits.messages_per_day - self._used[keys[1]]
            granted = max(0, min(wanted, hour_left, day_left))
            for key in keys:
                self._used[key] += granted
        return _grant(granted, wanted, hour_left <= day_left, now)

    async def give_back(self, organisation_id: int, unused: int, now: datetime) -> None:
        if unused <= 0:
            return
        (hour, _), (day, _) = _windows(now)
        async with self._lock:
            for key in (f"{organisation_id}:h:{hour}", f"{organisation_id}:d:{day}"):
                self._used[key] = max(0, self._used[key] - unused)


class RedisTierLimiter:
    def __init__(self, redis: Redis, namespace: str = "guestcomms") -> None:
        self._redis = redis
        self._namespace = namespace
        self._reserve = redis.register_script(_LUA_RESERVE)

    def _keys(self, organisation_id: int, now: datetime) -> list[str]:
        (hour, _), (day, _) = _windows(now)
        prefix = f"{self._namespace}:limits:{organisation_id}"
        return [f"{prefix}:h:{hour}", f"{prefix}:d:{day}"]

    async def reserve(
        self, organisation_id: int, limits: TierLimits, wanted: int, now: datetime
    ) -> Grant:
        keys = self._keys(organisation_id, now)
        used_hour, used_day = (int(v or 0) for v in await self._redis.mget(keys))
        granted = int(
            await self._reserve(
                keys=keys,
                args=[wanted, limits.messages_per_hour, limits.messages_per_day, 7200, 172800],
            )
        )
        hour_left = limits.messages_per_hour - used_hour
        day_left = limits.messages_per_day - used_day
        return _grant(granted, wanted, hour_left <= day_left, now)

    async def give_back(self, organisation_id: int, unused: int, now: datetime) -> None:
        if unused <= 0:
            return
        for key in self._keys(organisation_id, now):
            await self._redis.decrby(key, unused)

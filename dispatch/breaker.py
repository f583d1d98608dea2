"""A circuit breaker per provider: stop calling a provider that is failing, probe, recover.

Closed: calls go through and outcomes are counted over a sliding window.
When the failure rate reaches the threshold (with enough calls to judge),
it opens: batches are deferred instead of burning retries. After the open
period one caller gets a probe (half-open): success closes it, failure
opens it again. State lives in Redis when configured, so every worker
agrees; in memory otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from redis.asyncio import Redis

Change = Literal["opened", "closed"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_rate: float
    min_calls: int
    window_seconds: int
    open_seconds: int


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    state: Literal["closed", "open", "half_open"]
    retry_at: float | None = None  # epoch seconds


class CircuitBreaker(Protocol):
    async def check(self, provider: str) -> Decision: ...

    async def record(self, provider: str, ok: bool, count: int = 1) -> Change | None:
        """Count ``count`` outcomes; says "opened" or "closed" when the state changed."""
        ...


class MemoryBreaker:
    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self._clock = clock
        self._calls: dict[str, deque[tuple[float, bool]]] = {}
        self._opened_until: dict[str, float] = {}
        self._probing: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def check(self, provider: str) -> Decision:
        now = self._clock()
        async with self._lock:
            until = self._opened_until.get(provider)
            if until is None:
                return Decision(True, "closed")
            if now < until:
                return Decision(False, "open", until)
            if self._probing.get(provider, 0) > now:
                return Decision(False, "half_open", now + 1)
            self._probing[provider] = now + self.policy.open_seconds
            return Decision(True, "half_open")

    async def record(self, provider: str, ok: bool, count: int = 1) -> Change | None:
        now = self._clock()
        policy = self.policy
        async with self._lock:
            if provider in self._opened_until:
                if now < self._opened_until[provider]:
                    return None  # a late answer from before it opened
                self._probing.pop(provider, None)
                if ok:
                    del self._opened_until[provider]
                    self._calls.pop(provider, None)
                    return "closed"
                self._opened_until[provider] = now + policy.open_seconds
                return None
            calls = self._calls.setdefault(provider, deque())
            calls.extend((now, ok) for _ in range(count))
            while calls and calls[0][0] < now - policy.window_seconds:
                calls.popleft()
            failures = sum(1 for _, good in calls if not good)
            if len(calls) >= policy.min_calls and failures / len(calls) >= policy.failure_rate:
                self._opened_until[provider] = now + policy.open_seconds
                return "opened"
            return None


_LUA_RECORD = """
-- KEYS: ok, fail, opened_until, probe
-- ARGV: now, ok(1/0), window, min_calls, rate, open_seconds, count
local now = tonumber(ARGV[1])
local until_ = tonumber(redis.call('GET', KEYS[3]) or '0')
if until_ > 0 then
  if now < until_ then return '' end
  redis.call('DEL', KEYS[4])
  if ARGV[2] == '1' then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
    return 'closed'
  end
  redis.call('SET', KEYS[3], tostring(now + tonumber(ARGV[6])))
  return ''
end
local key = KEYS[1]
if ARGV[2] ~= '1' then key = KEYS[2] end
for _ = 1, tonumber(ARGV[7]) do
  redis.call('ZADD', key, now, tostring(now) .. ':' .. redis.call('INCR', KEYS[1] .. ':seq'))
end
local floor = now - tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', floor)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', floor)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]) * 2)
local good = redis.call('ZCARD', KEYS[1])
local bad = redis.call('ZCARD', KEYS[2])
local total = good + bad
if total >= tonumber(ARGV[4]) and bad / total >= tonumber(ARGV[5]) then
  redis.call('SET', KEYS[3], tostring(now + tonumber(ARGV[6])))
  return 'opened'
end
return ''
"""


class RedisBreaker:
    def __init__(
        self,
        redis: Redis,
        policy: BreakerPolicy,
        namespace: str = "guestcomms",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._redis = redis
        self._namespace = namespace
        self._record = redis.register_script(_LUA_RECORD)

    def _keys(self, provider: str) -> list[str]:
        prefix = f"{self._namespace}:breaker:{provider}"
        return [f"{prefix}:ok", f"{prefix}:fail", f"{prefix}:opened_until", f"{prefix}:probe"]

    async def check(self, provider: str) -> Decision:
        now = self._clock()
        _, _, opened_until, probe = self._keys(provider)
        raw = await self._redis.get(opened_until)
        if raw is None:
            return Decision(True, "closed")
        until = float(raw)
        if now < until:
            return Decision(False, "open", until)
        if await self._redis.set(probe, "1", nx=True, ex=self.policy.open_seconds):
            return Decision(True, "half_open")
        return Decision(False, "half_open", now + 1)

    async def peek(self, provider: str) -> Decision:
        """The state as ``check`` sees it, without taking the probe (health checks)."""
        raw = await self._redis.get(self._keys(provider)[2])
        if raw is None:
            return Decision(True, "closed")
        until = float(raw)
        if self._clock() < until:
            return Decision(False, "open", until)
        return Decision(True, "half_open")

    async def record(self, provider: str, ok: bool, count: int = 1) -> Change | None:
        policy = self.policy
        result = await self._record(
            keys=self._keys(provider),
            args=[
                self._clock(),
                "1" if ok else "0",
                policy.window_seconds,
                policy.min_calls,
                policy.failure_rate,
                policy.open_seconds,
                count,
            ],
        )
        text = result.decode() if isinstance(result, bytes) else str(result)
        if text == "opened":
            return "opened"
        if text == "closed":
            return "closed"
        return None

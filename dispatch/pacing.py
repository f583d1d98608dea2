"""Per-sender pacing: texts reach the carrier at the sender's rate and never faster.

A carrier lets each sending number send so many texts a second (a long code
1, toll-free 3, a short code 100) and refuses the rest — Twilio answers 429,
error 20429 — counting over any one second, a sliding window: ``rate`` + 1
texts in a row must span more than a second *when they arrive*. Two parts
keep to that:

* a schedule: each text reserves the sender's next slot ahead of time, one
  ``spacing`` after the last, so the workers take turns instead of racing;
* a gate at the moment of sending: a text leaves only if the sender's
  ``burst``-th last text left at least ``span`` ago. Between a slot and the
  send the opt-out check runs (a database query of varying latency), so the
  moments texts leave jitter around their slots; the gate measures those
  moments themselves, so no jitter before it can bring ``burst`` + 1 texts
  within a second. Only ``burst`` apart are held to the window, so a text a
  little late does not delay the next one.

Both run a small ``guard`` under the carrier's rate (``SMS_PACING_GUARD_MS``,
40 ms a second: 3.8 %): what happens after the gate (the HTTP request, the
network) moves arrivals by a few milliseconds either way, and that must not
turn ``span`` into less than a second at the carrier.

In Redis when REDIS_URL is set, so every worker shares one schedule and one
record of sends (stamped by Redis's clock, one clock for every machine); in
memory otherwise, with the same rules.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from redis.asyncio import Redis

T = TypeVar("T")

# The opt-out check runs this long before the slot (learned from the last
# checks), so the text leaves at its slot and not a query's latency later.
LEAD_SECONDS = (0.01, 0.25)
# A clearance older than this when the gate finally lets the text go is asked again.
HOLD_SECONDS = 0.5
# A wait, however small once rounded, is never 0 (which means "go, recorded").
_LEAST_WAIT = 1e-6


@dataclass(frozen=True, slots=True)
class Pace:
    """A sender's rate (texts a second, the carrier's) and the guard kept under it."""

    per_second: float
    guard: float = 0.04  # seconds added to each of the carrier's seconds

    @property
    def burst(self) -> int:
        """How many texts in a row the carrier's window may hold."""
        return max(1, math.floor(self.per_second))

    @property
    def spacing(self) -> float:
        """Between two slots of the schedule."""
        return (1 + self.guard) / self.per_second

    @property
    def span(self) -> float:
        """At least this from one text leaving to the ``burst``-th after it."""
        return self.burst * self.spacing


class Pacer(Protocol):
    async def reserve(
        self, sender: str, pace: Pace, earliest: float, deadline: float
    ) -> float | None:
        """Take the sender's next slot (epoch seconds), not before ``earliest``; None,
        and nothing taken, when it would come after ``deadline``."""
        ...

    async def gate(self, sender: str, pace: Pace) -> float:
        """At the moment of sending: 0, with this send recorded, when the sender's
        ``burst``-th last send was ``span`` ago or more; else the seconds until it will
        have been (nothing recorded)."""
        ...

    async def gate_then_reserve(
        self, sender: str, pace: Pace, earliest: float, deadline: float
    ) -> tuple[float, float | None]:
        """``gate``, and when it lets this text go, ``reserve`` for a next text of the
        same batch in the same call: the gate's answer and that slot (None: none taken)."""
        ...


class MemoryPacer:
    """One process, one event loop: nothing awaits between a read and its write."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._next: dict[str, float] = {}
        self._sent: dict[str, deque[float]] = {}

    async def reserve(
        self, sender: str, pace: Pace, earliest: float, deadline: float
    ) -> float | None:
        slot = max(earliest, self._next.get(sender, earliest))
        if slot > deadline:
            return None
        self._next[sender] = slot + pace.spacing
        return slot

    async def gate(self, sender: str, pace: Pace) -> float:
        now = self._clock()
        sent = self._sent.get(sender)
        if sent is None or sent.maxlen != pace.burst:
            sent = self._sent[sender] = deque(sent or (), maxlen=pace.burst)
        if len(sent) == pace.burst and now - sent[0] < pace.span:
            return max(sent[0] + pace.span - now, _LEAST_WAIT)
        sent.append(now)
        return 0.0

    async def gate_then_reserve(
        self, sender: str, pace: Pace, earliest: float, deadline: float
    ) -> tuple[float, float | None]:
        wait = await self.gate(sender, pace)
        if wait > 0:
            return wait, None
        return wait, await self.reserve(sender, pace, earliest, deadline)


# The two steps as Lua functions, so that each script and the one doing both run
# the very same code.
_LUA_RESERVE_STEP = """
local function reserve(key, now, earliest, spacing, deadline)
  local next_free = tonumber(redis.call('GET', key) or '0')
  local slot = math.max(earliest, next_free)
  if slot > deadline then return '-1' end
  local keep_ms = math.max(1000, math.ceil((slot - now + spacing) * 1000) + 1000)
  redis.call('SET', key, string.format('%.6f', slot + spacing), 'PX', keep_ms)
  return string.format('%.6f', slot)
end
"""

# The newest send first; stamped with Redis's own clock, the same for every worker.
_LUA_GATE_STEP = """
local function gate(key, burst, span)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local oldest = tonumber(redis.call('LINDEX', key, burst - 1) or '')
  if oldest and now - oldest < span then
    return string.format('%.6f', math.max(oldest + span - now, 0.000001))
  end
  redis.call('LPUSH', key, string.format('%.6f', now))
  redis.call('LTRIM', key, 0, burst - 1)
  redis.call('PEXPIRE', key, math.ceil(span * 1000) + 1000)
  return '0'
end
"""

_LUA_RESERVE = (
    _LUA_RESERVE_STEP
    + "return reserve(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), "
    + "tonumber(ARGV[4]))"
)

_LUA_GATE = _LUA_GATE_STEP + "return gate(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))"

# The gate (KEYS[1], ARGV[1..2]) and, when it lets the text go, the next slot of the
# schedule (KEYS[2], ARGV[3..6]): one round trip for the two, as {wait, slot or -1}.
_LUA_GATE_THEN_RESERVE = (
    _LUA_GATE_STEP
    + _LUA_RESERVE_STEP
    + """
local wait = gate(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
if wait ~= '0' then return {wait, '-1'} end
return {'0', reserve(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]),
  tonumber(ARGV[6]))}
"""
)


class RedisPacer:
    """All workers share each sender's schedule and its record of sends."""

    def __init__(self, redis: Redis, namespace: str = "guestcomms") -> None:
        self._redis = redis
        self._namespace = namespace
        self._reserve = redis.register_script(_LUA_RESERVE)
        self._gate = redis.register_script(_LUA_GATE)
        self._gate_then_reserve = redis.register_script(_LUA_GATE_THEN_RESERVE)

    async def reserve(
        self, sender: str, pace: Pace, earliest: float, deadline: float
    ) -> float | None:
        slot = float(
            await self._reserve(
                keys=[f"{self._namespace}:pace:{sender}"],
                args=[time.time(), earliest, pace.spacing, deadline],
            )
        )
        return None if slot < 0 else slot

    async def gate(self, sender: str, pace: Pace) -> float:
        wait = await self._gate(
            keys=[f"{self._namespace}:pace:{sender}:sent"], args=[pace.burst, pace.span]
        )
        return float(wait)

    async def gate_then_reserve(
        self, sender: str, pace: Pace, earliest: float, deadline: float
    ) -> tuple[float, float | None]:
        wait, slot = await self._gate_then_reserve(
            keys=[f"{self._namespace}:pace:{sender}:sent", f"{self._namespace}:pace:{sender}"],
            args=[
                pace.burst,
                pace.span,
                time.time(),
                earliest,
                pace.spacing,
                deadline,
            ],
        )
        reserved = float(slot)
        return float(wait), None if reserved < 0 else reserved


@dataclass(frozen=True, slots=True)
class Turn(Generic[T]):
    """``granted`` False: no slot before the deadline (nothing taken). Else ``cleared``:
    what the check said, None when it said no, and otherwise this is the moment to send."""

    granted: bool
    cleared: T | None = None


class Turns:
    """One batch's texts from one sender taking their turns.

    ``texts``: how many the batch has. While some have not taken a turn yet, the
    gate that lets one go reserves the next one's slot in the same call
    (``gate_then_reserve``): one round trip to Redis a text instead of two. That
    text still has its slot before its check, and its check before the gate.
    """

    def __init__(self, pacer: Pacer, sender: str, pace: Pace, texts: int = 0) -> None:
        self._pacer = pacer
        self._sender = sender
        self._pace = pace
        self._checks: deque[float] = deque(maxlen=20)
        self._texts = texts
        self._taken = 0
        self._reserved: list[float] = []  # slots taken for texts still to come

    def lead(self) -> float:
        """How long before its slot a text's check starts: half as long again as the
        slowest of the last checks, so it is nearly always over in time."""
        low, high = LEAD_SECONDS
        return min(high, max(low, 1.5 * max(self._checks, default=0.0)))

    async def take(self, deadline: float, clear: Callable[[], Awaitable[T | None]]) -> Turn[T]:
        """Wait for the sender's next turn, ``clear`` (the opt-out check) asked just
        before it; returns at the moment to send. ``deadline``: epoch seconds."""
        lead = self.lead()
        # The next free slot, now if the sender is idle: a text then leaves as soon
        # as its check is over, a moment after its slot, and the gate (which counts
        # when texts really leave) holds the next one if it must. Only a busy
        # sender's texts wait, and their checks run just before their slots.
        slot = (
            self._reserved.pop(0)
            if self._reserved
            else await self._pacer.reserve(self._sender, self._pace, time.time(), deadline)
        )
        if slot is None or slot > deadline:
            return Turn(granted=False)
        self._taken += 1
        await _sleep_until(slot - lead)
        while True:
            asked = time.time()
            cleared = await clear()
            if cleared is None:
                return Turn(granted=True)
            self._checks.append(time.time() - asked)
            await _sleep_until(slot)
            while (wait := await self._gate(deadline)) > 0:
                if time.time() + wait > deadline:
                    return Turn(granted=False)
                await asyncio.sleep(wait)
                if time.time() - asked > HOLD_SECONDS:
                    break  # held too long since the check: ask the ledger again
            else:
                return Turn(granted=True, cleared=cleared)

    async def _gate(self, deadline: float) -> float:
        if self._taken + len(self._reserved) >= self._texts:
            return await self._pacer.gate(self._sender, self._pace)
        wait, slot = await self._pacer.gate_then_reserve(
            self._sender, self._pace, time.time(), deadline
        )
        if slot is not None:
            self._reserved.append(slot)
        return wait


async def _sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        await asyncio.sleep(delay)

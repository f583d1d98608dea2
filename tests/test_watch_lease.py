"""Two schedulers (a rolling deploy, a second one started by mistake): one watches and
posts alerts; the other takes over only when the first stops renewing its lease."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import func, select

from bot.dispatching import wire
from dispatch.watch import WATCH_LEASE_TTL, watch
from store.models import Alert
from tests.alert_helpers import SteppedClock
from tests.dispatch_harness import Backend, running_fakes, settings_for


async def test_one_scheduler_watches_and_another_takes_over_when_it_stops(
    backend: Backend, tmp_path: Path
) -> None:
    clock = SteppedClock()
    with running_fakes() as fakes:
        settings = settings_for(backend.url, fakes, tmp_path, backend.redis_url)
        dispatching = wire(settings, f"gctest-{uuid.uuid4().hex[:10]}", clock)
        first = dispatching.control_runtime(settings, clock)
        second = dispatching.control_runtime(settings, clock)
        try:
            # Both tick at the same moment: exactly one of them watches.
            answers = await asyncio.gather(watch(first, "first"), watch(second, "second"))
            assert sum(answer is not None for answer in answers) == 1
            leader, other = ("first", "second") if answers[0] is not None else ("second", "first")
            runtimes = {"first": first, "second": second}
            # The leader renews on every tick; the other keeps standing by.
            for _ in range(8):
                clock.advance(15)
                assert await watch(runtimes[leader], leader) is not None
                assert await watch(runtimes[other], other) is None
            # The leader stops ticking: once its lease runs out, the other watches.
            clock.advance(WATCH_LEASE_TTL.total_seconds() - 1)
            assert await watch(runtimes[other], other) is None
            clock.advance(2)
            assert await watch(runtimes[other], other) is not None
            assert await watch(runtimes[leader], leader) is None
            async with backend.database.reading() as session:
                assert await session.scalar(select(func.count()).select_from(Alert)) == 0
        finally:
            await first.close()
            await second.close()
            dispatching.broker.close()

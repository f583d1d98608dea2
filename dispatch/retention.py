"""The scheduler's purge of old message texts (store/privacy/retention.py), hourly.

In chunks, each its own short transaction: the first purge after an upgrade
may meet years of texts, and a long write would hold SQLite's only lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dispatch.runtime import Runtime
from store.privacy.retention import Purged, purge_old_texts

SWEEP_EVERY = timedelta(hours=1)
CHUNK = 2000


class RetentionSweep:
    """Runs the purge on the first tick, then once every ``SWEEP_EVERY`` of the clock."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._next: datetime | None = None

    async def run_if_due(self) -> Purged | None:
        now = self.runtime.clock()
        if self._next is not None and now < self._next:
            return None
        self._next = now + SWEEP_EVERY
        return await sweep(self.runtime, now)


async def sweep(runtime: Runtime, now: datetime) -> Purged:
    days = runtime.settings.retention_days_after_wedding
    total = Purged()
    while True:
        async with runtime.database.transaction() as session:
            purged = await purge_old_texts(session, now, days, CHUNK)
        total.add(purged)
        if max(sum(purged.inbound_texts.values()), sum(purged.delivery_errors.values())) < CHUNK:
            return total

"""The scheduler's watch over the system: sample the queue, drop old figures, evaluate alerts."""

from __future__ import annotations

from datetime import timedelta

from dispatch.alert_evaluator import EvaluationReport, evaluate_alerts
from dispatch.metric_tally import MetricTally
from dispatch.runtime import Runtime
from store.repositories.metric_rows import forget_before
from store.repositories.operations import OperationsQueries
from store.repositories.work_leases import hold_lease

# Dashboards look back a week; rules a few minutes.
KEEP_FIGURES = timedelta(days=8)
# One scheduler watches at a time (two would both post a newly firing alert).
# The holder renews on every tick; if it stops, another takes over after this.
WATCH_LEASE = "alerts"
WATCH_LEASE_TTL = timedelta(seconds=60)


async def watch(runtime: Runtime, holder: str) -> EvaluationReport | None:
    """The watch's work for this tick, or None when another scheduler (``holder`` names
    this one) holds the watch: it samples, evaluates and posts instead."""
    now = runtime.clock()
    async with runtime.database.transaction() as session:
        if not await hold_lease(session, WATCH_LEASE, holder, now, WATCH_LEASE_TTL):
            return None
    async with runtime.database.reading() as session:
        queue = await OperationsQueries(session).queue(now)
    tally = MetricTally()
    tally.observe("system.queue.size", float(sum(queue.counts.values())), now)
    oldest = queue.oldest_created_at
    tally.observe(
        "system.queue.oldest_age_seconds",
        max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        now,
    )
    await tally.flush(runtime.database)
    async with runtime.database.transaction() as session:
        await forget_before(session, now - KEEP_FIGURES)
    return await evaluate_alerts(runtime.database, now, runtime.settings.max_attempts)

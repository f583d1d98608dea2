"""The scheduler's watch over the system: sample the queue, drop old figures, evaluate alerts."""

from __future__ import annotations

from datetime import timedelta

from dispatch.alert_evaluator import EvaluationReport, evaluate_alerts
from dispatch.metric_tally import MetricTally
from dispatch.runtime import Runtime
from store.repositories.metric_rows import forget_before
from store.repositories.operations import OperationsQueries

# Dashboards look back a week; rules a few minutes.
KEEP_FIGURES = timedelta(days=8)


async def watch(runtime: Runtime) -> EvaluationReport:
    now = runtime.clock()
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

"""The web process's figures written as minute buckets, for alert rules and dashboards.

The Prometheus counters (``handlers/metrics.py``) are already kept at every
place a webhook changes something. Rather than count twice at each of those
places, a flusher reads how much each counter grew since its last look and
writes that growth as rows, every ``FLUSH_SECONDS`` and once more on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from dispatch.metric_tally import MetricTally
from handlers.keys import SERVICES
from handlers.metrics import METRICS, WebMetrics
from store.models.base import utcnow

FLUSH_SECONDS = 15.0
# Routes whose answer time is "webhook latency" (not pages, health or the API).
WEBHOOK_ROUTES = ("/twilio/", "/email/")
# Opt-out reasons that are also figures of their own.
_REASON_METRICS = {"complaint": "complaints", "bounce": "bounces"}

_Seen = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class GrowthReader:
    """What the counters added since the last ``read``, as a tally of rows."""

    def __init__(self, metrics: WebMetrics) -> None:
        self._metrics = metrics
        self._seen: _Seen = {}

    def read(self, at: datetime) -> MetricTally:
        tally = MetricTally()
        for metric in self._metrics.registry.collect():
            for sample in metric.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                grown = sample.value - self._seen.get(key, 0.0)
                self._seen[key] = sample.value
                if grown > 0:
                    self._record(tally, sample.name, sample.labels, grown, at)
        self._record_latency(tally, at)
        return tally

    def _record(
        self, tally: MetricTally, name: str, labels: dict[str, str], grown: float, at: datetime
    ) -> None:
        n = round(grown)
        if name == "guestcomms_opt_outs_total":
            tally.add("opt_outs", at, n, labels)
            if labels.get("reason") in _REASON_METRICS:
                tally.add(_REASON_METRICS[labels["reason"]], at, n, {"channel": labels["channel"]})
        elif name == "guestcomms_rsvps_total":
            tally.add("rsvps", at, n, labels)
        elif name == "guestcomms_delivery_reports_total":
            # Sent is counted by the worker that sent; what became of it
            # afterwards is known only from the provider's report.
            status = labels["status"]
            figure = "messages.delivered" if status == "delivered" else "messages.undelivered"
            where = {"channel": labels["channel"], "provider": labels["provider"]}
            tally.add(figure, at, n, where if figure == "messages.delivered" else labels)

    def _record_latency(self, tally: MetricTally, at: datetime) -> None:
        # The histogram's _sum and _count grew together: their growth is the
        # mean answer time of the requests since the last look.
        grown: dict[str, list[float]] = {}
        for metric in self._metrics.registry.collect():
            if metric.name != "guestcomms_http_request_seconds":
                continue
            for sample in metric.samples:
                route = sample.labels.get("route", "")
                if not route.startswith(WEBHOOK_ROUTES):
                    continue
                if sample.name.endswith(("_sum", "_count")):
                    key = (sample.name + ":latency", (("route", route),))
                    growth = sample.value - self._seen.get(key, 0.0)
                    self._seen[key] = sample.value
                    grown.setdefault(route, [0.0, 0.0])[sample.name.endswith("_count")] += growth
        for route, (seconds, count) in grown.items():
            if count > 0:
                tally.observe_many(
                    "webhook.latency_ms", seconds * 1000, round(count), at, route=route
                )


def metric_rows_context(
    clock: Callable[[], datetime] = utcnow,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        reader = GrowthReader(app[METRICS])
        stopping = asyncio.Event()

        async def flush() -> None:
            await reader.read(clock()).flush(app[SERVICES].database)

        async def loop() -> None:
            while not stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), FLUSH_SECONDS)
                await flush()

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            stopping.set()
            await task  # its last pass writes what the final requests counted

    return context

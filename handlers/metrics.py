"""Prometheus metrics of the web process, and ``GET /metrics`` that exposes them.

Each app has its own registry, so several apps in one process (tests, the
benchmark) never share counters or collide on registration.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

# Webhooks should answer in milliseconds; Twilio gives up after 15 s.
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0)


class WebMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "guestcomms_http_requests",
            "HTTP requests answered, by route and outcome (status class or 'rejected').",
            ["route", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "guestcomms_http_request_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.opt_outs = Counter(
            "guestcomms_opt_outs",
            "Addresses newly suppressed by a guest or a provider, by channel and reason.",
            ["channel", "reason"],
            registry=self.registry,
        )
        self.opt_ins = Counter(
            "guestcomms_opt_ins",
            "Guests' own opt-outs lifted by their START / resubscribe, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.rsvps = Counter(
            "guestcomms_rsvps",
            "RSVPs recorded from guests' replies, by status and channel.",
            ["status", "channel"],
            registry=self.registry,
        )
        self.delivery_reports = Counter(
            "guestcomms_delivery_reports",
            "Providers' reports that moved a message forward, by channel, provider and the "
            "status reported (delivered, failed, undelivered).",
            ["channel", "provider", "status"],
            registry=self.registry,
        )
        self.inbound = Counter(
            "guestcomms_inbound_messages",
            "Guests' messages received, by channel and how they were read.",
            ["channel", "classification"],
            registry=self.registry,
        )

        # Labelled children by their labels: ``labels()`` validates and locks on
        # every call, a few µs that every request paid twice. Routes are patterns
        # and statuses few, so these stay small.
        self._answered: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
        self._children: dict[tuple[Counter, tuple[str, ...]], Counter] = {}

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        children = self._answered.get((route, status))
        if children is None:
            outcome = "rejected" if status in (401, 403) else f"{status // 100}xx"
            children = (self.requests.labels(route, outcome), self.latency.labels(route))
            self._answered[(route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def count(self, counter: Counter, *labels: str) -> None:
        """``counter.labels(*labels).inc()``, with the child kept for next time."""
        child = self._children.get((counter, labels))
        if child is None:
            child = self._children[(counter, labels)] = counter.labels(*labels)
        child.inc()


METRICS = web.AppKey("metrics", WebMetrics)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response

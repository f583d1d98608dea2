"""Driving the alert evaluator as the scheduler does, with a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.slack.alert_poster import AlertPoster, alert_poster
from bot.slack.settings import SlackSettings
from dispatch.alert_evaluator import EvaluationReport, evaluate_alerts
from dispatch.metric_tally import MetricTally
from store.database import Database
from tests.fakes.server import BackgroundServer
from tests.fakes.slack import BOT_TOKEN, SlackFake

ALERTS = "C_ONCALL"
RUNBOOK = "https://example.com/guestcomms/README.md"


class SteppedClock:
    """Time that moves only when the test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def alerts_settings(api_url: str, **more: Any) -> SlackSettings:
    return SlackSettings(
        slack_bot_token=BOT_TOKEN,
        slack_api_url=api_url,
        slack_alerts_channel=ALERTS,
        slack_alerts_runbook_url=RUNBOOK,
        **more,
    )


@dataclass
class Watch:
    database: Database
    clock: SteppedClock
    poster: AlertPoster
    fake: SlackFake

    async def record_error_rate(self, percent: float, attempts: int = 100) -> None:
        tally = MetricTally()
        labels = {"channel": "sms", "provider": "twilio"}
        tally.add("messages.attempts", self.clock(), attempts, labels)
        tally.add("messages.errors", self.clock(), round(attempts * percent / 100), labels)
        await tally.flush(self.database)

    async def record_queue(self, size: float) -> None:
        tally = MetricTally()
        tally.observe("system.queue.size", size, self.clock())
        await tally.flush(self.database)

    async def tick(self, max_attempts: int = 5) -> EvaluationReport:
        """One scheduler tick's alert work: evaluate, then bring Slack in line."""
        report = await evaluate_alerts(self.database, self.clock(), max_attempts)
        await self.poster.run_pass()
        return report

    def top_level(self) -> list[dict[str, Any]]:
        return [
            m
            for (ch, _), m in self.fake.messages.items()
            if ch == ALERTS and not m.get("thread_ts")
        ]

    def replies(self) -> list[dict[str, Any]]:
        return [
            m for (ch, _), m in self.fake.messages.items() if ch == ALERTS and m.get("thread_ts")
        ]


@asynccontextmanager
async def watching(
    database: Database, clock: SteppedClock, **settings: Any
) -> AsyncIterator[Watch]:
    fake = SlackFake()
    with BackgroundServer(fake.app()) as server:
        slack = alerts_settings(f"{server.url}/api/", **settings)
        async with alert_poster(database, slack, clock) as poster:
            assert poster is not None
            yield Watch(database, clock, poster, fake)

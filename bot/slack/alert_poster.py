"""Telling the on-call channel about alerts: the scheduler's part after each evaluation.

It reads the alert rows and brings Slack in line with them: a firing alert
without a message gets one; a changed figure, an acknowledgement or a mute
updates that same message; a resolved alert gets its resolution in the
thread; an unacknowledged P0/P1 is announced again after a delay. Each step
is recorded on the row, so a Slack that is down now is simply caught up on
the next tick, and nothing is posted twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import structlog
from aiohttp import ClientSession
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import or_, select, update

from bot.slack.alert_text import alert_message, reminder_text, resolution_text
from bot.slack.bolt_app import web_client
from bot.slack.settings import SlackSettings
from store.database import Database
from store.models import Alert, AlertRule

log = structlog.get_logger(__name__)
URGENT = ("P0", "P1")


class AlertPoster:
    def __init__(
        self,
        database: Database,
        client: AsyncWebClient,
        settings: SlackSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.database = database
        self.client = client
        self.settings = settings
        self.clock = clock

    async def run_pass(self) -> None:
        channel = self.settings.slack_alerts_channel
        if not channel:
            return
        now = self.clock()
        async with self.database.reading() as session:
            rules = {r.id: r for r in await session.scalars(select(AlertRule))}
            alerts = list(
                await session.scalars(
                    select(Alert)
                    .where(
                        or_(
                            Alert.status.in_(("firing", "clearing")),
                            (Alert.status == "resolved") & (Alert.resolution_posted.is_(False)),
                        )
                    )
                    .order_by(Alert.id)
                )
            )
        for alert in alerts:
            rule = rules.get(alert.rule_id) if alert.rule_id is not None else None
            try:
                await self._bring_in_line(alert, rule, channel, now)
            except Exception:
                # Slack down or refusing: this alert waits for the next tick.
                log.exception("could not tell Slack about an alert", alert=alert.id)

    async def _bring_in_line(
        self, alert: Alert, rule: AlertRule | None, channel: str, now: datetime
    ) -> None:
        muted_until = (
            rule.muted_until if rule and rule.muted_until and rule.muted_until > now else None
        )
        text, blocks, digest = alert_message(
            alert,
            rule.kind if rule else "metric",
            rule.metric if rule else None,
            self.settings.slack_alerts_runbook_url,
            muted_until,
        )
        if alert.ts is None:
            if alert.status == "resolved":
                await self._save(alert.id, resolution_posted=True)  # never told: nothing to undo
                return
            if muted_until is not None:
                return  # a muted rule stays silent
            answer = await self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
            await self._save(
                alert.id,
                channel_id=str(answer["channel"]),
                ts=str(answer["ts"]),
                shown=digest,
                notified_at=now,
            )
            return
        assert alert.channel_id is not None
        if digest != alert.shown:
            await self.client.chat_update(
                channel=alert.channel_id, ts=alert.ts, text=text, blocks=blocks
            )
            await self._save(alert.id, shown=digest)
        if alert.status == "resolved":
            await self.client.chat_postMessage(
                channel=alert.channel_id, thread_ts=alert.ts, text=resolution_text(alert)
            )
            await self._save(alert.id, resolution_posted=True)
            return
        every = timedelta(seconds=self.settings.slack_alerts_renotify_seconds)
        if (
            alert.severity in URGENT
            and alert.acknowledged_by is None
            and muted_until is None
            and alert.notified_at is not None
            and now - alert.notified_at >= every
        ):
            await self.client.chat_postMessage(
                channel=alert.channel_id,
                thread_ts=alert.ts,
                text=reminder_text(alert),
                reply_broadcast=False,
            )
            await self._save(alert.id, notified_at=now)

    async def _save(self, alert_id: int, **values: object) -> None:
        async with self.database.transaction() as session:
            await session.execute(
                update(Alert)
                .where(Alert.id == alert_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )


@asynccontextmanager
async def alert_poster(
    database: Database, settings: SlackSettings, clock: Callable[[], datetime]
) -> AsyncIterator[AlertPoster | None]:
    """The scheduler's poster (no Bolt app there: a Web API client of its own), or None
    when SLACK_ALERTS_CHANNEL or the single-workspace SLACK_BOT_TOKEN is unset."""
    token = settings.slack_bot_token
    if not settings.slack_alerts_channel or token is None:
        yield None
        return
    async with ClientSession() as session:
        client = web_client(settings, token.get_secret_value(), session)
        yield AlertPoster(database, client, settings, clock)

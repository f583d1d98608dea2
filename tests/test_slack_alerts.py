"""``/comms alerts …`` and the Acknowledge / Mute buttons, through signed requests into
``/slack/events``: admins only, audited, bad input answered and nothing changed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.slack.alert_poster import alert_poster
from bot.slack.alert_text import ACKNOWLEDGE_ACTION, MUTE_ACTION
from dispatch.alert_evaluator import evaluate_alerts
from dispatch.metric_tally import MetricTally
from store.database import Database
from store.models import AlertRule, AuditEntry
from tests.alert_helpers import ALERTS, SteppedClock, alerts_settings
from tests.slack_harness import running_bot


async def _rule(database: Database, slug: str) -> AlertRule | None:
    async with database.reading() as session:
        return await session.scalar(select(AlertRule).where(AlertRule.slug == slug))


async def _audited(database: Database, action: str) -> list[AuditEntry]:
    async with database.reading() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_alert_commands_are_for_admins_and_audited(
    sqlite_database: Database, sqlite_database_url: str, tmp_path: Path
) -> None:
    db = sqlite_database
    async with running_bot(db, sqlite_database_url, tmp_path, SteppedClock()) as bot:
        await bot.command("alerts list", user="U_PLANNER")
        await bot.told("you need the", user="U_PLANNER")
        await bot.command("alerts list", user="U_OWNER")
        listing = await bot.told("Alert rules:", user="U_OWNER")
        assert "`high-error-rate` High error rate: system.error.rate_percent > 5 held 5m" in listing
        assert "`provider-circuit-open`" in listing

        await bot.command("alerts set high-error-rate threshold 8", user="U_OWNER")
        await bot.told("Changed: • `high-error-rate`", user="U_OWNER")
        rule = await _rule(db, "high-error-rate")
        assert rule is not None
        assert rule.threshold == 8
        [change] = await _audited(db, "alert_rule.changed")
        assert change.actor == "slack:U_OWNER"
        assert change.before is not None
        assert change.before["threshold"] == 5

        await bot.command("alerts mute queue-backlog soon", user="U_OWNER")
        await bot.told("“soon” is not a mute duration", user="U_OWNER")
        await bot.command("alerts set no-such-rule threshold 3", user="U_OWNER")
        await bot.told("There is no alert rule “no-such-rule”", user="U_OWNER")
        await bot.command("alerts add slow-batches batch.bogus > 1 5m P3", user="U_OWNER")
        await bot.told("“batch.bogus” is not a recorded metric", user="U_OWNER")
        assert await _rule(db, "slow-batches") is None

        await bot.command("alerts add slow-batches batch.duration_ms > 20000 5m P3", user="U_OWNER")
        await bot.told("Added: • `slow-batches`", user="U_OWNER")
        await bot.command("alerts mute slow-batches 2h", user="U_OWNER")
        await bot.told("Rule `slow-batches` is muted until", user="U_OWNER")
        await bot.command("alerts unmute slow-batches", user="U_OWNER")
        await bot.told("Rule `slow-batches` is no longer muted.", user="U_OWNER")
        await bot.command("alerts remove slow-batches", user="U_OWNER")
        await bot.told("Rule `slow-batches` is removed", user="U_OWNER")
        assert await _rule(db, "slow-batches") is None
        for action in ("created", "muted", "unmuted", "removed"):
            assert await _audited(db, f"alert_rule.{action}"), action


async def test_acknowledge_and_mute_buttons_and_their_typed_twins(
    sqlite_database: Database, sqlite_database_url: str, tmp_path: Path
) -> None:
    db = sqlite_database
    clock = SteppedClock()
    async with running_bot(db, sqlite_database_url, tmp_path, clock) as bot:
        slack = alerts_settings(bot.settings.slack.slack_api_url or "")
        async with alert_poster(db, slack, clock) as poster:
            assert poster is not None
            for _ in range(22):  # 50 % errors for over five minutes
                tally = MetricTally()
                tally.add("messages.attempts", clock(), 10, {})
                tally.add("messages.errors", clock(), 5, {})
                await tally.flush(db)
                await evaluate_alerts(db, clock(), 5)
                clock.advance(15)
            await poster.run_pass()
            message = await bot.said("FIRING P1 (high): High error rate", channel=ALERTS)
            alert_number = message["text"].split("Alert #")[1].split(".")[0]

            await bot.click(ACKNOWLEDGE_ACTION, alert_number, user="U_VIEWER", channel=ALERTS)
            await bot.told("you need the", user="U_VIEWER")
            await bot.click(
                ACKNOWLEDGE_ACTION,
                alert_number,
                user="U_OWNER",
                channel=ALERTS,
                message_ts=message["ts"],
            )
            await bot.told(
                f"Alert #{alert_number} (High error rate) is acknowledged", user="U_OWNER"
            )
            await bot.command(f"alerts ack {alert_number}", user="U_ADMIN_NONE")
            await bot.command(f"alerts ack {alert_number}", user="U_OWNER")
            await bot.told("was already acknowledged by <@U_OWNER>", user="U_OWNER")
            await poster.run_pass()
            updated = await bot.said("Acknowledged by <@U_OWNER>", channel=ALERTS)
            labels = [e["text"]["text"] for e in updated["blocks"][-1]["elements"]]
            assert labels == ["Mute this rule for 1 hour"]

            await bot.click(
                MUTE_ACTION, alert_number, user="U_OWNER", channel=ALERTS, message_ts=message["ts"]
            )
            await bot.told("Rule `high-error-rate` is muted until 2026-12-02 10:", user="U_OWNER")
            await poster.run_pass()
            muted = await bot.said("Rule muted until", channel=ALERTS)
            assert all(b["type"] != "actions" for b in muted["blocks"])
            assert await _audited(db, "alert.acknowledged")
            assert await _audited(db, "alert_rule.muted")

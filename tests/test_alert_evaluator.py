"""The alert evaluator over recorded metric rows, with a clock the test moves: a rule fires
once after its window, its one message is updated while it fires, one resolution follows
when it clears, muted rules stay silent, and flapping input raises no storm."""

from __future__ import annotations

from datetime import timedelta

from store.audit import Actor
from store.database import Database
from store.repositories.alert_rules import AlertRules, firing_alerts
from tests.alert_helpers import ALERTS, RUNBOOK, SteppedClock, watching

TICK = 15


async def test_high_error_rate_fires_once_updates_in_place_and_resolves(database: Database) -> None:
    clock = SteppedClock()
    async with watching(database, clock) as watch:
        # 40 % errors, for less than the rule's 300 s: nothing yet.
        for _ in range(20):
            await watch.record_error_rate(40)
            await watch.tick()
            clock.advance(TICK)
        assert watch.top_level() == []
        await watch.record_error_rate(40)
        report = await watch.tick()
        assert report.fired == 1
        [message] = watch.top_level()
        text = message["text"]
        assert "FIRING P1 (high): High error rate" in text
        assert "system.error.rate_percent is 40% (threshold: over 5%)" in text
        assert f"{RUNBOOK}#runbook-high-error-rate" in text
        assert "Firing since 2026-12-02 09:05 UTC" in text
        labels = [e["text"]["text"] for e in message["blocks"][-1]["elements"]]
        assert labels == ["Acknowledge", "Mute this rule for 1 hour"]
        async with database.reading() as session:
            [firing] = await firing_alerts(session)
        assert (firing.rule_slug, firing.severity) == ("high-error-rate", "P1")

        # Still firing, a worse figure: the same message says so; no new one.
        clock.advance(TICK)
        await watch.record_error_rate(75)
        await watch.tick()
        [message] = watch.top_level()
        assert "system.error.rate_percent is 40%" not in message["text"]
        assert len(watch.fake.payloads("chat.update")) == 1
        await watch.tick()
        assert len(watch.fake.payloads("chat.update")) == 1  # the same figure: no edit

        # Healthy again: it must stay clear for a whole window before it resolves.
        # (The figure covers the last minute or two: it drops under 5% some ticks in.)
        for _ in range(20):
            clock.advance(TICK)
            await watch.record_error_rate(0)
            await watch.tick()
        assert watch.top_level()[0]["text"].startswith("FIRING")
        for _ in range(12):
            clock.advance(TICK)
            await watch.record_error_rate(0)
            await watch.tick()
        [message] = watch.top_level()
        assert message["text"].startswith("RESOLVED P1 (high): High error rate")
        [resolution] = watch.replies()
        assert resolution["thread_ts"] == message["ts"]
        assert "Resolved: High error rate has stayed clear since" in resolution["text"]
        clock.advance(TICK)
        await watch.tick()
        assert len(watch.replies()) == 1
        async with database.reading() as session:
            assert await firing_alerts(session) == []


async def test_flapping_input_fires_at_most_once_per_window(database: Database) -> None:
    clock = SteppedClock()
    async with watching(database, clock) as watch:
        # Over and under the backlog threshold every other minute: never held 60 s.
        for minute in range(30):
            await watch.record_queue(5000 if minute % 2 == 0 else 10)
            for _ in range(4):
                await watch.tick()
                clock.advance(TICK)
        assert watch.top_level() == []
        # Then a backlog that stays, then one that flaps while firing: one message only.
        for _ in range(6):
            await watch.record_queue(5000)
            await watch.tick()
            clock.advance(TICK)
        for minute in range(20):
            clock.advance(60)
            await watch.record_queue(5000 if minute % 2 == 0 else 10)
            await watch.tick()
        assert len(watch.top_level()) == 1
        assert watch.replies() == []
        assert "FIRING P2 (medium): Queue backlog" in watch.top_level()[0]["text"]


async def test_a_muted_rule_stays_silent(database: Database) -> None:
    clock = SteppedClock()
    async with watching(database, clock) as watch:
        async with database.transaction() as session:
            await AlertRules(session, Actor("slack", "U_OWNER")).mute(
                "queue-backlog", clock() + timedelta(hours=1)
            )
        for _ in range(20):
            await watch.record_queue(5000)
            await watch.tick()
            clock.advance(TICK)
        assert watch.top_level() == []
        # The mute ends with the backlog still there: now it is told.
        clock.advance(3600)
        await watch.record_queue(5000)
        await watch.tick()
        [message] = watch.top_level()
        assert "Queue backlog" in message["text"]
        assert message["channel"] == ALERTS


async def test_an_unacknowledged_p1_is_announced_again_once_per_delay(database: Database) -> None:
    clock = SteppedClock()
    async with watching(database, clock, slack_alerts_renotify_seconds=600) as watch:
        for _ in range(21):
            await watch.record_error_rate(50)
            await watch.tick()
            clock.advance(TICK)
        assert len(watch.top_level()) == 1
        for _ in range(40):  # ten minutes more, still failing
            await watch.record_error_rate(50)
            await watch.tick()
            clock.advance(TICK)
        [reminder] = watch.replies()
        assert reminder["text"].startswith("<!channel> Still firing and not acknowledged: P1")
        assert "/comms alerts ack" in reminder["text"]

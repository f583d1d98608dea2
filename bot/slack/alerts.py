"""``/comms alerts …`` and the Acknowledge / Mute buttons on alert messages.

Every change is audited (the store's AlertRules). Buttons ack first and work
after; each has a typed twin: ``/comms alerts ack N``, ``/comms alerts mute
<rule> 1h``. The message itself is brought up to date by the scheduler's
alert poster on its next tick; the person who pressed is told at once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack.access import Caller
from bot.slack.alert_text import (
    ACKNOWLEDGE_ACTION,
    MUTE_ACTION,
    MUTE_BUTTON,
    severity_words,
    when,
    who,
)
from bot.slack.command_table import Command
from bot.slack.errors import UsageError
from bot.slack.requests import CommandRequest, clicked_number
from bot.slack.router import BotWiring
from bot.slack.services import BotServices
from dispatch.alert_figures import METRICS
from store.alert_defaults import SEVERITIES
from store.models import Alert, AlertRule
from store.permissions import Action
from store.repositories.alert_rules import AlertRules

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MAX_MUTE = timedelta(days=7)


def duration(text: str, what: str) -> timedelta:
    found = _DURATION.match(text.strip().lower())
    if not found or int(found[1]) == 0:
        raise UsageError(
            f"“{text}” is not a {what}: say a number and s, m, h or d, e.g. `30m`, `2h`."
        )
    return timedelta(seconds=int(found[1]) * _UNIT_SECONDS[found[2]])


def _seconds_words(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def rule_line(rule: AlertRule, now: datetime) -> str:
    watches = rule.metric or rule.kind.replace("_", " ")
    muted = (
        f", muted until {when(rule.muted_until)}"
        if rule.muted_until and rule.muted_until > now
        else ""
    )
    off = ", switched off" if not rule.enabled else ""
    return (
        f"• `{rule.slug}` {rule.name}: {watches} {rule.comparison} {rule.threshold:g} "
        f"held {_seconds_words(rule.window_seconds)}, {severity_words(rule.severity)}{muted}{off}"
    )


def _severity(text: str) -> str:
    value = text.upper()
    if value not in SEVERITIES:
        raise UsageError(f"“{text}” is not a severity: say P0 (critical), P1, P2 or P3 (low).")
    return value


def _threshold(text: str) -> float:
    try:
        return float(text.rstrip("%"))
    except ValueError:
        raise UsageError(f"“{text}” is not a number for the threshold.") from None


def register(bolt: AsyncApp, wiring: BotWiring) -> None:
    services = wiring.services

    async def listing(request: CommandRequest) -> None:
        async with services.database.transaction() as session:
            rules = await AlertRules(session, request.caller.actor).all()
        now = services.clock()
        lines = [rule_line(r, now) for r in rules] or [
            "No alert rules: add one with `/comms alerts add`."
        ]
        await request.tell("Alert rules:\n" + "\n".join(lines))

    async def adding(request: CommandRequest) -> None:
        args = request.arguments
        usage = (
            "`/comms alerts add <name> <metric> > <threshold> <window> <P0-P3>`, e.g. "
            "`/comms alerts add slow-batches batch.duration_ms > 20000 5m P3`"
        )
        if len(args) != 6 or args[2] not in (">", "<"):
            raise UsageError(f"Say it as {usage}.")
        slug, metric = args[0].lower(), args[1]
        if not _SLUG.match(slug):
            raise UsageError(
                f"“{args[0]}” cannot name a rule: use lower-case letters, digits and dashes."
            )
        if metric not in METRICS:
            raise UsageError(
                f"“{metric}” is not a recorded metric. Known: {', '.join(sorted(METRICS))}."
            )
        window = duration(args[4], "window")
        rule = AlertRule(
            slug=slug,
            name=slug.replace("-", " ").capitalize(),
            kind="metric",
            metric=metric,
            comparison=args[2],
            threshold=_threshold(args[3]),
            window_seconds=int(window.total_seconds()),
            severity=_severity(args[5]),
            enabled=True,
        )
        async with services.database.transaction() as session:
            await AlertRules(session, request.caller.actor).add(rule)
        await request.tell("Added: " + rule_line(rule, services.clock()))

    async def setting(request: CommandRequest) -> None:
        args = request.arguments
        if len(args) != 3:
            raise UsageError(
                "Say which rule, what and the new value: `/comms alerts set high-error-rate "
                "threshold 8` (threshold, window, severity, or enabled on/off)."
            )
        slug, what, value = args[0], args[1].lower(), args[2]
        values: dict[str, Any]
        if what == "threshold":
            values = {"threshold": _threshold(value)}
        elif what == "window":
            values = {"window_seconds": int(duration(value, "window").total_seconds())}
        elif what == "severity":
            values = {"severity": _severity(value)}
        elif what == "enabled" and value.lower() in ("on", "off"):
            values = {"enabled": value.lower() == "on"}
        else:
            raise UsageError(
                f"A rule's {what} cannot be set to “{value}”: "
                "set threshold, window, severity or enabled on/off."
            )
        async with services.database.transaction() as session:
            rule = await AlertRules(session, request.caller.actor).change(slug, **values)
            line = rule_line(rule, services.clock())
        await request.tell("Changed: " + line)

    async def muting(request: CommandRequest) -> None:
        if len(request.arguments) != 2:
            raise UsageError(
                "Say which rule and for how long: `/comms alerts mute queue-backlog 2h`."
            )
        line = await mute_rule(services, request.caller, request.arguments[0], request.arguments[1])
        await request.tell(line)

    async def unmuting(request: CommandRequest) -> None:
        if len(request.arguments) != 1:
            raise UsageError("Say which rule: `/comms alerts unmute queue-backlog`.")
        async with services.database.transaction() as session:
            rule = await AlertRules(session, request.caller.actor).unmute(request.arguments[0])
            slug = rule.slug
        await request.tell(f"Rule `{slug}` is no longer muted.")

    async def removing(request: CommandRequest) -> None:
        if len(request.arguments) != 1:
            raise UsageError("Say which rule: `/comms alerts remove slow-batches`.")
        slug = request.arguments[0]
        async with services.database.transaction() as session:
            await AlertRules(session, request.caller.actor).remove(slug)
        await request.tell(
            f"Rule `{slug.lower()}` is removed; an alert it raised resolves on the next check."
        )

    async def acknowledging(request: CommandRequest) -> None:
        if len(request.arguments) != 1 or not request.arguments[0].lstrip("#").isdigit():
            raise UsageError(
                "Say which alert: `/comms alerts ack 12` (its number is on the message)."
            )
        await request.tell(
            await acknowledge(services, request.caller, int(request.arguments[0].lstrip("#")))
        )

    async def acknowledge_pressed(request: CommandRequest, body: dict[str, Any]) -> None:
        alert_id = clicked_number(body, "an alert", "/comms alerts ack N")
        await request.tell(await acknowledge(services, request.caller, alert_id))

    async def mute_pressed(request: CommandRequest, body: dict[str, Any]) -> None:
        async with services.database.reading() as session:
            alert = await session.get(
                Alert, clicked_number(body, "an alert", "/comms alerts ack N")
            )
        if alert is None:
            raise UsageError(
                "That alert is gone; mute its rule with `/comms alerts mute <rule> 1h`."
            )
        await request.tell(await mute_rule(services, request.caller, alert.rule_slug, MUTE_BUTTON))

    wiring.button(bolt, ACKNOWLEDGE_ACTION, Action.MANAGE_ALERTS, acknowledge_pressed)
    wiring.button(bolt, MUTE_ACTION, Action.MANAGE_ALERTS, mute_pressed)
    for words, arguments, summary, example, run in (
        (
            ("alerts", "list"),
            "",
            "the alert rules, their thresholds and mutes",
            "/comms alerts list",
            listing,
        ),
        (
            ("alerts", "add"),
            "<name> <metric> > <threshold> <window> <P0-P3>",
            "watch a metric",
            "/comms alerts add slow-batches batch.duration_ms > 20000 5m P3",
            adding,
        ),
        (
            ("alerts", "set"),
            "<rule> threshold|window|severity|enabled <value>",
            "change a rule",
            "/comms alerts set high-error-rate threshold 8",
            setting,
        ),
        (
            ("alerts", "mute"),
            "<rule> <duration>",
            "silence a rule for a while",
            "/comms alerts mute queue-backlog 2h",
            muting,
        ),
        (
            ("alerts", "unmute"),
            "<rule>",
            "end a rule's mute",
            "/comms alerts unmute queue-backlog",
            unmuting,
        ),
        (
            ("alerts", "remove"),
            "<rule>",
            "stop watching a rule",
            "/comms alerts remove slow-batches",
            removing,
        ),
        (
            ("alerts", "ack"),
            "<alert number>",
            "acknowledge a firing alert (stops reminders)",
            "/comms alerts ack 12",
            acknowledging,
        ),
    ):
        wiring.table.add(
            Command(words, arguments, summary, example, "Alerts", Action.MANAGE_ALERTS, run)
        )


async def mute_rule(services: BotServices, caller: Caller, slug: str, length: str) -> str:
    span = duration(length, "mute duration")
    if span > MAX_MUTE:
        raise UsageError("Mute for at most 7 days (`7d`); to stop a rule for good, `remove` it.")
    async with services.database.transaction() as session:
        rule = await AlertRules(session, caller.actor).mute(slug, services.clock() + span)
        slug, until = rule.slug, rule.muted_until
    return f"Rule `{slug}` is muted until {when(until)}: it stays silent until then."


async def acknowledge(services: BotServices, caller: Caller, alert_id: int) -> str:
    async with services.database.transaction() as session:
        rules = AlertRules(session, caller.actor)
        alert, newly = await rules.acknowledge(alert_id, services.clock())
        by, name = alert.acknowledged_by, alert.rule_name
    if not newly:
        return f"Alert #{alert_id} ({name}) was already acknowledged by {who(by or '')}."
    return f"Alert #{alert_id} ({name}) is acknowledged: no more reminders while it fires."

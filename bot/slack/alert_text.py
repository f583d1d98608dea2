"""How an alert reads in the on-call channel: severity in words, the figure against its
threshold, since when, the runbook, and its buttons (each with a typed twin)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from store.alert_defaults import SEVERITIES
from store.models import Alert

ACKNOWLEDGE_ACTION = "alert_acknowledge"
MUTE_ACTION = "alert_mute"
MUTE_BUTTON = "1h"
_MARKS = {"P0": ":rotating_light:", "P1": ":red_circle:", "P2": ":large_orange_circle:"}
_UNITS = {
    "system.error.rate_percent": "%",
    "system.processing.latency_ms": " ms",
    "batch.duration_ms": " ms",
    "webhook.latency_ms": " ms",
    "system.queue.oldest_age_seconds": " s",
}


def severity_words(severity: str) -> str:
    return f"{severity} ({SEVERITIES.get(severity, 'unknown')})"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "just now"


def figure_words(alert: Alert, kind: str, metric: str | None) -> str:
    """The figure against its threshold, in the rule's own terms."""
    compare = "over" if alert.comparison == ">" else "under"
    threshold = f"threshold: {compare} {alert.threshold:g}"
    if kind == "provider_circuit":
        state = "open" if alert.figure > alert.threshold else "closed again"
        return f"the circuit breaker of {alert.subject} is {state}: its calls are held back"
    if kind == "complaint_rate":
        return f"{alert.figure:g}% of {alert.subject}'s emails drew a spam complaint ({threshold}%)"
    if kind == "campaign_stalled":
        return (
            f"{alert.subject} has made no progress for {alert.figure:g} minutes while sending "
            f"({threshold} minutes)"
        )
    if kind == "dead_letters":
        return (
            f"{alert.figure:g} messages gave up after every attempt in the last hour ({threshold})"
        )
    name = metric or "the figure"
    unit = _UNITS.get(name, "")
    return f"{name} is {alert.figure:g}{unit} ({threshold}{unit})"


def runbook(slug: str, base_url: str | None) -> str:
    anchor = f"runbook-{slug}"
    if base_url:
        return f"<{base_url}#{anchor}|Runbook: {slug}>"
    return f"Runbook: README.md, section #{anchor}"


def alert_message(
    alert: Alert,
    kind: str,
    metric: str | None,
    runbook_url: str | None,
    muted_until: datetime | None,
) -> tuple[str, list[dict[str, Any]], str]:
    """The text (which says everything), the blocks, and a digest to tell changes by."""
    subject = f" — {alert.subject}" if alert.subject else ""
    if alert.status == "resolved":
        head = f"RESOLVED {severity_words(alert.severity)}: {alert.rule_name}{subject}"
        status = f"Resolved at {when(alert.resolved_at)}; it fired from {when(alert.firing_since)}."
    else:
        head = f"FIRING {severity_words(alert.severity)}: {alert.rule_name}{subject}"
        status = f"Firing since {when(alert.firing_since)}."
        if alert.status == "clearing":
            status += f" Clear since {when(alert.clear_since)}; it resolves if it stays clear."
    notes = []
    if alert.acknowledged_by:
        notes.append(
            f"Acknowledged by {who(alert.acknowledged_by)} at {when(alert.acknowledged_at)}."
        )
    if muted_until and alert.status != "resolved":
        notes.append(f"Rule muted until {when(muted_until)}.")
    figure = figure_words(alert, kind, metric)
    link = runbook(alert.rule_slug, runbook_url)
    text = " ".join([f"{head}. Now: {figure}. {status}", *notes, f"Alert #{alert.id}.", f"{link}."])
    mark = _MARKS.get(alert.severity, ":large_yellow_circle:")
    if alert.status == "resolved":
        mark = ":white_check_mark:"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{mark} *{head}*\n{figure}"}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": " ".join([status, *notes, f"Alert #{alert.id}.", link])}
            ],
        },
    ]
    if alert.status != "resolved":
        buttons = []
        if not alert.acknowledged_by:
            buttons.append(_button("Acknowledge", ACKNOWLEDGE_ACTION, alert.id, "primary"))
        if not muted_until:
            buttons.append(_button("Mute this rule for 1 hour", MUTE_ACTION, alert.id, None))
        if buttons:
            blocks.append({"type": "actions", "elements": buttons})
    digest = hashlib.sha256(repr((text, blocks)).encode()).hexdigest()[:32]
    return text, blocks, digest


def resolution_text(alert: Alert) -> str:
    subject = f" ({alert.subject})" if alert.subject else ""
    return (
        f"Resolved: {alert.rule_name}{subject} has stayed clear since {when(alert.clear_since)}; "
        f"alert #{alert.id} fired from {when(alert.firing_since)} to {when(alert.resolved_at)}."
    )


def reminder_text(alert: Alert) -> str:
    return (
        f"<!channel> Still firing and not acknowledged: {severity_words(alert.severity)} "
        f"{alert.rule_name}, alert #{alert.id}, since {when(alert.firing_since)}. "
        f"Acknowledge it with the button or `/comms alerts ack {alert.id}`."
    )


def who(actor: str) -> str:
    kind, _, user = actor.partition(":")
    return f"<@{user}>" if kind == "slack" and user else actor


def _button(label: str, action: str, alert_id: int, style: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action,
        "value": str(alert_id),
    }
    if style:
        button["style"] = style
    return button

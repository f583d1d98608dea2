"""The alert evaluator: run by the scheduler's tick with the tick's clock.

Flapping is damped both ways: a breach must hold for the rule's whole window
before the alert fires, and a firing alert must stay clear for a whole
window before it resolves. A breach that clears before its window is
forgotten (nobody was told). Telling Slack is the bot's part
(``bot/slack/alert_poster.py``): it reads the alert rows this writes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from dispatch.alert_figures import measure
from store.alert_defaults import ensure_default_rules
from store.database import Database
from store.models import Alert, AlertRule
from store.repositories.operations import BREAKER_KINDS
from store.repositories.outbox import claim_events

COMPARE: dict[str, Callable[[float, float], bool]] = {">": operator.gt, "<": operator.lt}


@dataclass
class EvaluationReport:
    fired: int = 0
    resolved: int = 0


async def evaluate_alerts(database: Database, now: datetime, max_attempts: int) -> EvaluationReport:
    report = EvaluationReport()
    async with database.transaction() as session:
        # Breaker changes are ours to read (the Slack notifier leaves them); the
        # circuit rule reads each provider's last word, so claiming marks them seen.
        await claim_events(session, BREAKER_KINDS, now)
        await ensure_default_rules(session)
        rules = {r.id: r for r in await session.scalars(select(AlertRule))}
        open_alerts = list(await session.scalars(select(Alert).where(Alert.status != "resolved")))
        by_key = {(a.rule_id, a.subject): a for a in open_alerts}
        for rule in rules.values():
            if not rule.enabled:
                continue
            current = await measure(session, rule, now, max_attempts)
            subjects = set(current) | {s for (rid, s) in by_key if rid == rule.id}
            for subject in sorted(subjects):
                alert = by_key.pop((rule.id, subject), None)
                figure = current.get(subject)
                breaching = figure is not None and COMPARE[rule.comparison](figure, rule.threshold)
                if breaching and alert is None:
                    alert = _new_alert(rule, subject, figure or 0.0, now)
                    session.add(alert)
                if alert is not None and _step(alert, rule, breaching, figure, now, report):
                    await session.delete(alert)
        for alert in by_key.values():
            # Its rule was removed or switched off: nothing watches it any more.
            if alert.status == "pending":
                await session.delete(alert)
            else:
                alert.status, alert.resolved_at = "resolved", now
                report.resolved += 1
    return report


def _new_alert(rule: AlertRule, subject: str, figure: float, now: datetime) -> Alert:
    return Alert(
        rule_id=rule.id,
        rule_slug=rule.slug,
        rule_name=rule.name,
        severity=rule.severity,
        subject=subject,
        status="pending",
        figure=figure,
        threshold=rule.threshold,
        comparison=rule.comparison,
        breaching_since=now,
        resolution_posted=False,
    )


def _step(
    alert: Alert,
    rule: AlertRule,
    breaching: bool,
    figure: float | None,
    now: datetime,
    report: EvaluationReport,
) -> bool:
    """Move one alert on; True when it should be forgotten (a breach that never fired)."""
    window = timedelta(seconds=rule.window_seconds)
    if figure is not None:
        alert.figure = figure
    alert.threshold, alert.comparison, alert.severity = (
        rule.threshold,
        rule.comparison,
        rule.severity,
    )
    if breaching:
        if alert.status == "clearing":
            alert.status, alert.clear_since = "firing", None
        elif alert.status == "pending" and now - alert.breaching_since >= window:
            alert.status, alert.firing_since = "firing", now
            report.fired += 1
        return False
    if alert.status == "pending":
        return True
    if alert.status == "firing":
        alert.status, alert.clear_since = "clearing", now
    if alert.status == "clearing" and alert.clear_since and now - alert.clear_since >= window:
        alert.status, alert.resolved_at = "resolved", now
        report.resolved += 1
    return False

"""The product's alert rules, written on first use (an install with no rules that never
removed one); later changes go through ``/comms alerts`` and are audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import SYSTEM, AuditRecord, record
from store.models import AlertRule, AuditEntry

SEVERITIES = {"P0": "critical", "P1": "high", "P2": "medium", "P3": "low"}
KINDS = ("metric", "provider_circuit", "dead_letters", "complaint_rate", "campaign_stalled")


@dataclass(frozen=True, slots=True)
class DefaultRule:
    slug: str
    name: str
    kind: str
    metric: str | None
    threshold: float
    window_seconds: int
    severity: str


DEFAULT_RULES = (
    DefaultRule(
        "high-error-rate", "High error rate", "metric", "system.error.rate_percent", 5, 300, "P1"
    ),
    DefaultRule("queue-backlog", "Queue backlog", "metric", "system.queue.size", 1000, 60, "P2"),
    DefaultRule(
        "high-latency", "High latency", "metric", "system.processing.latency_ms", 5000, 300, "P2"
    ),
    # The figures: providers whose breaker is open; messages that gave up after
    # every attempt in the last hour; a campaign's complaints as a percentage of
    # its emails; minutes a sending campaign has made no progress.
    DefaultRule(
        "provider-circuit-open", "Provider circuit open", "provider_circuit", None, 0, 60, "P1"
    ),
    DefaultRule("dead-letters", "Dead-letter messages", "dead_letters", None, 0, 60, "P2"),
    DefaultRule("complaint-rate", "Complaint rate", "complaint_rate", None, 0.3, 60, "P2"),
    DefaultRule("campaign-stalled", "Campaign stalled", "campaign_stalled", None, 10, 60, "P2"),
)


async def ensure_default_rules(session: AsyncSession) -> None:
    if await session.scalar(select(func.count()).select_from(AlertRule)):
        return
    removed = await session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "alert_rule.removed")
    )
    if removed:
        return  # an operator removed them all: that is their choice
    rows = [
        AlertRule(
            slug=d.slug,
            name=d.name,
            kind=d.kind,
            metric=d.metric,
            comparison=">",
            threshold=float(d.threshold),
            window_seconds=d.window_seconds,
            severity=d.severity,
            enabled=True,
        )
        for d in DEFAULT_RULES
    ]
    session.add_all(rows)
    await session.flush()
    await record(
        session,
        SYSTEM,
        [
            AuditRecord(None, "alert_rule.created", "alert_rule", row.id, after={"slug": row.slug})
            for row in rows
        ],
    )

"""What each kind of alert rule measures now: a figure per subject.

A subject is what the alert is about: the whole system (""), a provider
("sms:twilio") or a campaign ("campaign 12"). A subject missing from the
answer is clear.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import CampaignState, Channel, DeliveryStatus, SuppressionReason
from store.models import AlertRule, Campaign, Delivery, Event, Suppression
from store.repositories.deliveries import WAITING
from store.repositories.metric_rows import figures
from store.repositories.operations import BREAKER_KINDS, latest_breaker_changes

# Metric rules look at the newest minute: the window is how long that figure
# must stay over (or under) the threshold.
FIGURE_SECONDS = 60
GAUGES = frozenset({"system.queue.size", "system.queue.oldest_age_seconds"})
MEANS = frozenset({"system.processing.latency_ms", "batch.duration_ms", "webhook.latency_ms"})
ERROR_RATE = "system.error.rate_percent"
# Every name a metric rule may watch (`/comms alerts add` checks against it).
METRICS = frozenset(
    {
        ERROR_RATE,
        *GAUGES,
        *MEANS,
        "messages.attempts",
        "messages.sent",
        "messages.errors",
        "messages.failed",
        "messages.rate_limited",
        "messages.delivered",
        "messages.undelivered",
        "opt_outs",
        "complaints",
        "bounces",
        "rsvps",
    }
)
DEAD_LETTER_LOOKBACK = timedelta(hours=1)
COMPLAINT_LOOKBACK = timedelta(days=7)


async def measure(
    session: AsyncSession, rule: AlertRule, now: datetime, max_attempts: int
) -> dict[str, float]:
    if rule.kind == "metric" and rule.metric:
        return {"": await metric_figure(session, rule.metric, now)}
    if rule.kind == "provider_circuit":
        return await _open_circuits(session)
    if rule.kind == "dead_letters":
        return await _dead_letters(session, now, max_attempts)
    if rule.kind == "complaint_rate":
        return await _complaint_rates(session, now)
    if rule.kind == "campaign_stalled":
        return await _stalled_minutes(session, now)
    return {}


async def metric_figure(session: AsyncSession, name: str, now: datetime) -> float:
    since = now - timedelta(seconds=FIGURE_SECONDS)
    if name == ERROR_RATE:
        attempts = await figures(session, "messages.attempts", since, now + timedelta(minutes=1))
        errors = await figures(session, "messages.errors", since, now + timedelta(minutes=1))
        return round(100 * errors.total / attempts.total, 2) if attempts.total else 0.0
    found = await figures(session, name, since, now + timedelta(minutes=1))
    if name in GAUGES:
        return found.latest or 0.0
    if name in MEANS:
        return round(found.mean, 1)
    return found.total


async def _open_circuits(session: AsyncSession) -> dict[str, float]:
    """1 for each provider whose breaker's last word was "opened", 0 once it closed."""
    provider = Event.payload["provider"].as_string()
    keys = await session.scalars(
        select(provider).where(Event.kind.in_(BREAKER_KINDS)).group_by(provider)
    )
    latest = await latest_breaker_changes(session, [k for k in keys if k])
    return {key: 1.0 if event.kind == "breaker.opened" else 0.0 for key, event in latest.items()}


async def _dead_letters(
    session: AsyncSession, now: datetime, max_attempts: int
) -> dict[str, float]:
    """Messages that failed with a temporary error on their last allowed attempt."""
    count = await session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.status == DeliveryStatus.FAILED,
            Delivery.attempts >= max_attempts,
            Delivery.updated_at >= now - DEAD_LETTER_LOOKBACK,
        )
    )
    return {"": float(count or 0)}


async def _complaint_rates(session: AsyncSession, now: datetime) -> dict[str, float]:
    """Per campaign of the last week: complaints after its email, as % of emails sent."""
    emailed = Delivery.status.in_((DeliveryStatus.SENT, DeliveryStatus.DELIVERED))
    recent = and_(
        Delivery.channel == Channel.EMAIL,
        Campaign.started_at >= now - COMPLAINT_LOOKBACK,
    )
    sent_rows = await session.execute(
        select(Delivery.campaign_id, func.count())
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(recent, emailed)
        .group_by(Delivery.campaign_id)
    )
    sent: dict[int, int] = {row[0]: row[1] for row in sent_rows}
    complaint_rows = await session.execute(
        select(Delivery.campaign_id, func.count())
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .join(
            Suppression,
            and_(
                Suppression.organisation_id == Campaign.organisation_id,
                Suppression.channel == Channel.EMAIL,
                Suppression.address == Delivery.address,
                Suppression.reason == SuppressionReason.COMPLAINT,
                Suppression.created_at >= Delivery.sent_at,
            ),
        )
        .where(recent, emailed)
        .group_by(Delivery.campaign_id)
    )
    return {
        f"campaign {campaign_id}": round(100 * n / sent[campaign_id], 2)
        for campaign_id, n in complaint_rows
        if sent.get(campaign_id)
    }


async def _stalled_minutes(session: AsyncSession, now: datetime) -> dict[str, float]:
    """Sending campaigns with work due and no delivery touched lately: minutes since the
    last progress. Throttled campaigns and work deferred to later are waiting, not stalled."""
    due = and_(
        Delivery.status.in_(WAITING),
        (Delivery.not_before.is_(None)) | (Delivery.not_before <= now),
    )
    rows = await session.execute(
        select(Campaign.id, Campaign.started_at, func.max(Delivery.updated_at))
        .join(Delivery, Delivery.campaign_id == Campaign.id)
        .where(
            Campaign.state == CampaignState.SENDING,
            (Campaign.throttled_until.is_(None)) | (Campaign.throttled_until <= now),
        )
        .group_by(Campaign.id, Campaign.started_at)
        .having(func.sum(case((due, 1), else_=0)) > 0)
    )
    stalled: dict[str, float] = {}
    for campaign_id, started_at, last_touched in rows:
        moments = [m for m in (started_at, last_touched) if m is not None]
        if not moments:
            continue
        last = max(m.replace(tzinfo=UTC) if m.tzinfo is None else m for m in moments)
        stalled[f"campaign {campaign_id}"] = round((now - last).total_seconds() / 60, 1)
    return stalled

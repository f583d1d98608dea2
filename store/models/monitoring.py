"""Monitoring state: metric figures per minute, alert rules, and the alerts they raise."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, BigId, UtcDateTime, utcnow


class MetricBucket(Base):
    """One metric's samples in one minute: count, sum, largest and latest value.

    Workers and the scheduler add to a bucket with one upsert per minute (not
    one row per message), so the table stays small and rules read few rows.
    """

    __tablename__ = "metric_buckets"
    __table_args__ = (
        UniqueConstraint("name", "labels", "bucket_start"),
        Index("ix_metric_buckets_bucket_start", "bucket_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))  # messages.sent, system.queue.size, …
    labels: Mapped[str] = mapped_column(String(200), default="")  # "channel=sms,provider=twilio"
    bucket_start: Mapped[datetime] = mapped_column(UtcDateTime)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    largest: Mapped[float] = mapped_column(Float, default=0.0)
    latest: Mapped[float] = mapped_column(Float, default=0.0)


class AlertRule(Base):
    """A condition the evaluator watches; ``kind`` says how its figure is measured."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)  # also the runbook anchor
    name: Mapped[str] = mapped_column(String(120))
    # metric (any recorded metric), provider_circuit, dead_letters, complaint_rate,
    # campaign_stalled
    kind: Mapped[str] = mapped_column(String(32), default="metric")
    metric: Mapped[str | None] = mapped_column(String(80))
    comparison: Mapped[str] = mapped_column(String(2), default=">")
    threshold: Mapped[float] = mapped_column(Float)
    # How long the condition must hold before it fires, and stay clear before it resolves.
    window_seconds: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(2))  # P0 … P3
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    muted_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    muted_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Alert(Base):
    """One rule breached for one subject (a provider, a campaign, or the whole system).

    pending (breached, not yet for a whole window) → firing → clearing (clear,
    not yet for a whole window) → resolved. A pending alert that clears is
    deleted: nobody was told, so there is nothing to resolve.
    """

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_rule_id_status", "rule_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"))
    # Copied from the rule, so a removed rule's alert can still be resolved in Slack.
    rule_slug: Mapped[str] = mapped_column(String(64))
    rule_name: Mapped[str] = mapped_column(String(120))
    severity: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    figure: Mapped[float] = mapped_column(Float, default=0.0)
    threshold: Mapped[float] = mapped_column(Float, default=0.0)
    comparison: Mapped[str] = mapped_column(String(2), default=">")
    breaching_since: Mapped[datetime] = mapped_column(UtcDateTime)
    firing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    clear_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The Slack message: where, what it shows now, whether the resolution was posted.
    channel_id: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    shown: Mapped[str | None] = mapped_column(String(64))
    resolution_posted: Mapped[bool] = mapped_column(Boolean, default=False)
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WorkLease(Base):
    """Which process does a piece of singleton work, until when.

    Alert evaluation and posting must happen in one place: two schedulers
    (a rolling deploy, an operator starting a second one) would otherwise both
    find a rule newly breaching and both post it. The holder renews its lease
    each tick; another process takes over only once it has expired.
    """

    __tablename__ = "work_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)

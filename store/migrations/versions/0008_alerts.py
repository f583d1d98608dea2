"""Monitoring: metric figures per minute, alert rules, alerts.

The default rules are written on first use (store/alert_defaults.py), so an
emptied database gets them too.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "metric_buckets",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("labels", sa.String(200), nullable=False),
        sa.Column("bucket_start", TIME, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("largest", sa.Float(), nullable=False),
        sa.Column("latest", sa.Float(), nullable=False),
        sa.UniqueConstraint("name", "labels", "bucket_start"),
    )
    op.create_index("ix_metric_buckets_bucket_start", "metric_buckets", ["bucket_start"])
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("metric", sa.String(80)),
        sa.Column("comparison", sa.String(2), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(2), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("muted_until", TIME),
        sa.Column("muted_by", sa.String(100)),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("rule_id", sa.Integer(), sa.ForeignKey("alert_rules.id", ondelete="SET NULL")),
        sa.Column("rule_slug", sa.String(64), nullable=False),
        sa.Column("rule_name", sa.String(120), nullable=False),
        sa.Column("severity", sa.String(2), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("figure", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("comparison", sa.String(2), nullable=False),
        sa.Column("breaching_since", TIME, nullable=False),
        sa.Column("firing_since", TIME),
        sa.Column("clear_since", TIME),
        sa.Column("resolved_at", TIME),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("ts", sa.String(32)),
        sa.Column("shown", sa.String(64)),
        sa.Column("resolution_posted", sa.Boolean(), nullable=False),
        sa.Column("notified_at", TIME),
        sa.Column("acknowledged_by", sa.String(100)),
        sa.Column("acknowledged_at", TIME),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_alerts_rule_id_status", "alerts", ["rule_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_alerts_rule_id_status", "alerts")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
    op.drop_index("ix_metric_buckets_bucket_start", "metric_buckets")
    op.drop_table("metric_buckets")

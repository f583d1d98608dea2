"""Leases on singleton work (the alert watch: one scheduler at a time does it), when the
opt-out ledger cleared each message to go (deliveries.cleared_at), and providers' reports
that arrived before the send was recorded (early_delivery_reports).

Revision ID: 0014
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0014"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("deliveries") as table:
        table.add_column(sa.Column("cleared_at", sa.DateTime(timezone=True)))
    op.create_table(
        "early_delivery_reports",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_message", sa.Text()),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_early_delivery_reports_message",
        "early_delivery_reports",
        ["provider", "provider_message_id"],
    )


def downgrade() -> None:
    op.drop_table("early_delivery_reports")
    with op.batch_alter_table("deliveries") as table:
        table.drop_column("cleared_at")
    op.drop_table("work_leases")

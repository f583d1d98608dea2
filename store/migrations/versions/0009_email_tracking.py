"""Open and click tracking of emails: the organisation's switch (off) and what guests did.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("organisations") as table:
        table.add_column(
            sa.Column("email_tracking", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "email_engagements",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column(
            "delivery_id",
            BIG_ID,
            sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("ignored_because", sa.String(32)),
        sa.Column("user_agent", sa.String(256), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index(
        "ix_email_engagements_delivery_id_kind", "email_engagements", ["delivery_id", "kind"]
    )


def downgrade() -> None:
    op.drop_index("ix_email_engagements_delivery_id_kind", table_name="email_engagements")
    op.drop_table("email_engagements")
    with op.batch_alter_table("organisations") as table:
        table.drop_column("email_tracking")

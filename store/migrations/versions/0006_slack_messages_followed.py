"""Slack messages kept up to date: what each shows now, when it was closed (final
figures shown, a review card dealt with) and by whom; at most one progress
message per campaign and one thread per guest.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slack_messages") as batch:
        batch.add_column(sa.Column("digest", sa.String(64)))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("closed_by", sa.String(32)))
    # Two web processes may race to post the same message: the index lets one win.
    op.create_index(
        "uq_slack_messages_progress",
        "slack_messages",
        ["campaign_id"],
        unique=True,
        sqlite_where=sa.text("purpose = 'progress'"),
        postgresql_where=sa.text("purpose = 'progress'"),
    )
    op.create_index(
        "uq_slack_messages_guest_thread",
        "slack_messages",
        ["guest_id"],
        unique=True,
        sqlite_where=sa.text("purpose = 'guest_thread'"),
        postgresql_where=sa.text("purpose = 'guest_thread'"),
    )


def downgrade() -> None:
    op.drop_index("uq_slack_messages_guest_thread", table_name="slack_messages")
    op.drop_index("uq_slack_messages_progress", table_name="slack_messages")
    with op.batch_alter_table("slack_messages") as batch:
        batch.drop_column("closed_by")
        batch.drop_column("closed_at")
        batch.drop_column("digest")

"""Organisations' SMS number and Messaging Service, to route guests' replies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as table:
        table.add_column(sa.Column("sms_number", sa.String(32)))
        table.add_column(sa.Column("messaging_service_sid", sa.String(64)))
        table.create_unique_constraint("uq_organisations_sms_number", ["sms_number"])
        table.create_unique_constraint(
            "uq_organisations_messaging_service_sid", ["messaging_service_sid"]
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations") as table:
        table.drop_constraint("uq_organisations_messaging_service_sid", type_="unique")
        table.drop_constraint("uq_organisations_sms_number", type_="unique")
        table.drop_column("messaging_service_sid")
        table.drop_column("sms_number")

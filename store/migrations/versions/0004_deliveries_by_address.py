"""Deliveries found by address: a guest's reply is matched to what we last sent there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deliveries_address", "deliveries", ["address"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_address", table_name="deliveries")

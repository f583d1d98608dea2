"""The ledger's look-ups by address hash use two partial indexes, one for active entries
and one for lifted ones, instead of a full index on the hash.

Every opt-out inserted a key into ``ix_suppressions_address_hash``: a keyed
hash, so a random place in the index and one more page for each COMMIT to
write (a fifth of a batch of STOPs' log pages on SQLite). Only the operator's
ledger history and a person's export or erasure read by hash without asking
for active entries, and those now ask for each side by its own index:
active entries by the unique index they always had, lifted ones — few: only a
guest's START lifts — by ``ix_suppressions_lifted_address_hash``, on the same
columns. (``store/repositories/suppressions.py``: ``entries_for``.)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIFTED = sa.text("lifted_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_suppressions_lifted_address_hash",
        "suppressions",
        ["organisation_id", "channel", "address_hash"],
        sqlite_where=LIFTED,
        postgresql_where=LIFTED,
    )
    op.drop_index("ix_suppressions_address_hash", table_name="suppressions")


def downgrade() -> None:
    op.create_index("ix_suppressions_address_hash", "suppressions", ["address_hash"])
    op.drop_index("ix_suppressions_lifted_address_hash", table_name="suppressions")

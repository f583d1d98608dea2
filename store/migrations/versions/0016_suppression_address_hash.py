"""The suppression ledger matched by a keyed hash of the address, so an erased guest's
opt-out (address cleared, hash kept) still holds.

The hash needs DATA_INDEX_KEY, which a migration cannot know by itself: whoever
runs it (``store.migrate.migrate``, the alembic CLI through env.py) passes the
keyring in ``config.attributes["keyring"]`` and the existing entries are hashed
here, in the migration's transaction. A database with no entries needs no key.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("lifted_at IS NULL")
# The blind-index kinds of store/keyring.py, by the ledger's channel.
KIND = {"email": "email", "sms": "phone"}


def upgrade() -> None:
    op.add_column("suppressions", sa.Column("address_hash", sa.String(64)))
    _hash_existing_entries()
    # SQLite changes a column's nullability by copying the table; the indexes
    # are dropped first and made again after, so none is lost on the way.
    op.drop_index("uq_suppressions_active_address", table_name="suppressions")
    op.drop_index("ix_suppressions_organisation_id_channel_address", table_name="suppressions")
    with op.batch_alter_table("suppressions") as table:
        table.alter_column("address", existing_type=sa.String(320), nullable=True)
        table.alter_column("address_hash", existing_type=sa.String(64), nullable=False)
    op.create_index(
        "ix_suppressions_organisation_id_channel_address",
        "suppressions",
        ["organisation_id", "channel", "address"],
    )
    op.create_index("ix_suppressions_address_hash", "suppressions", ["address_hash"])
    op.create_index(
        "uq_suppressions_active_address_hash",
        "suppressions",
        ["organisation_id", "channel", "address_hash"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def _hash_existing_entries() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, channel, address FROM suppressions WHERE address_hash IS NULL")
    ).all()
    if not rows:
        return
    config = op.get_context().config
    keyring_of: Callable[[], Any] | None = config.attributes.get("keyring") if config else None
    if keyring_of is None:
        raise RuntimeError(
            f"{len(rows)} opt-out entries need a keyed hash of their address, and this "
            "migration was run without the data keys: run `guestcomms migrate` instead."
        )
    try:
        keyring = keyring_of()
    except Exception as error:
        raise RuntimeError(
            f"{len(rows)} opt-out entries need a keyed hash of their address: {error}. "
            "Set DATA_INDEX_KEY (and DATA_ENCRYPTION_KEYS) and migrate again; nothing changed."
        ) from error
    connection.execute(
        sa.text("UPDATE suppressions SET address_hash = :hash WHERE id = :id"),
        [{"id": row.id, "hash": keyring.index(KIND[row.channel], row.address)} for row in rows],
    )


def downgrade() -> None:
    op.drop_index("uq_suppressions_active_address_hash", table_name="suppressions")
    op.drop_index("ix_suppressions_address_hash", table_name="suppressions")
    op.drop_index("ix_suppressions_organisation_id_channel_address", table_name="suppressions")
    # Entries of erased guests have no address to go back to; without the hash
    # they could match nothing, so they go.
    op.execute("DELETE FROM suppressions WHERE address IS NULL")
    with op.batch_alter_table("suppressions") as table:
        table.alter_column("address", existing_type=sa.String(320), nullable=False)
        table.drop_column("address_hash")
    op.create_index(
        "ix_suppressions_organisation_id_channel_address",
        "suppressions",
        ["organisation_id", "channel", "address"],
    )
    op.create_index(
        "uq_suppressions_active_address",
        "suppressions",
        ["organisation_id", "channel", "address"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )

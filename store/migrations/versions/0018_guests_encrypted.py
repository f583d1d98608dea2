"""Guests' personal data encrypted at rest: name, email, phone and dietary needs are
sealed with the data keys, and emails and phones get blind indexes that carry the
one-guest-per-address constraints.

Rows already there are sealed and indexed here, in the migration's transaction,
with the keys of the database running it (``guestcomms migrate`` and every
command that migrates first; see store/models/sealed.py). A database with
guests therefore needs DATA_ENCRYPTION_KEYS and DATA_INDEX_KEY to migrate, and
refuses, naming them, without; an empty one needs none. Downgrading opens the
values again with the same keys.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from store.keyring import is_encrypted
from store.models.sealed import PersonalDataKeys, keys_of

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEALED = ("name", "email", "phone", "dietary_requirements")
INDEXED = ("email", "phone")
_BATCH = 1000

_guests = sa.table(
    "guests", sa.column("id", sa.Integer()), *(sa.column(name, sa.Text()) for name in SEALED)
)


def upgrade() -> None:
    with op.batch_alter_table("guests") as table:
        table.drop_constraint("uq_guests_wedding_id_email", type_="unique")
        table.drop_constraint("uq_guests_wedding_id_phone", type_="unique")
        table.alter_column(
            "name", type_=sa.Text(), existing_type=sa.String(200), existing_nullable=False
        )
        table.alter_column("email", type_=sa.Text(), existing_type=sa.String(320))
        table.alter_column("phone", type_=sa.Text(), existing_type=sa.String(32))
        table.add_column(sa.Column("email_index", sa.String(64)))
        table.add_column(sa.Column("phone_index", sa.String(64)))
    _rewrite_guests(_seal)
    with op.batch_alter_table("guests") as table:
        table.create_unique_constraint(
            "uq_guests_wedding_id_email_index", ["wedding_id", "email_index"]
        )
        table.create_unique_constraint(
            "uq_guests_wedding_id_phone_index", ["wedding_id", "phone_index"]
        )


def downgrade() -> None:
    with op.batch_alter_table("guests") as table:
        table.drop_constraint("uq_guests_wedding_id_email_index", type_="unique")
        table.drop_constraint("uq_guests_wedding_id_phone_index", type_="unique")
    _rewrite_guests(_open)
    with op.batch_alter_table("guests") as table:
        table.drop_column("email_index")
        table.drop_column("phone_index")
        table.alter_column(
            "name", type_=sa.String(200), existing_type=sa.Text(), existing_nullable=False
        )
        table.alter_column("email", type_=sa.String(320), existing_type=sa.Text())
        table.alter_column("phone", type_=sa.String(32), existing_type=sa.Text())
        table.create_unique_constraint("uq_guests_wedding_id_email", ["wedding_id", "email"])
        table.create_unique_constraint("uq_guests_wedding_id_phone", ["wedding_id", "phone"])


Rewrite = Callable[[PersonalDataKeys, dict[str, str | None]], dict[str, str | None]]


def _seal(keys: PersonalDataKeys, row: dict[str, str | None]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for name in SEALED:
        value = row[name]
        values[name] = value if value is None or is_encrypted(value) else keys.encrypt(value)
    for name in INDEXED:
        clear = _clear(keys, row[name])
        values[f"{name}_index"] = keys.index(name, clear) if clear is not None else None
    return values


def _open(keys: PersonalDataKeys, row: dict[str, str | None]) -> dict[str, str | None]:
    return {name: _clear(keys, row[name]) for name in SEALED}


def _clear(keys: PersonalDataKeys, value: str | None) -> str | None:
    return keys.decrypt(value) if value is not None and is_encrypted(value) else value


def _rewrite_guests(rewrite: Rewrite) -> None:
    """Every guest row through ``rewrite``, a batch at a time, by raw SQL: the keys come
    from the migrating connection's engine, asked for only when there are guests."""
    bind = op.get_bind()
    keys: PersonalDataKeys | None = None
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(_guests).where(_guests.c.id > last_id).order_by(_guests.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        keys = keys or keys_of(bind.dialect)
        changes = []
        for row in rows:
            values = rewrite(keys, dict(row._mapping))
            changes.append({"row_id": row.id, **values})
        columns: dict[str, sa.BindParameter[str | None]] = {
            name: sa.bindparam(name) for name in changes[0] if name != "row_id"
        }
        table = sa.table("guests", sa.column("id"), *(sa.column(name) for name in columns))
        bind.execute(
            table.update().where(table.c.id == sa.bindparam("row_id")).values(columns), changes
        )
        last_id = rows[-1].id

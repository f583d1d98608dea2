"""The audit log becomes append-only in the database: triggers refuse UPDATE and DELETE.

Its organisation id stops being a foreign key (ON DELETE SET NULL is an
UPDATE the trigger would refuse; see store/models/audit.py).

On SQLite a table rebuilt by a later batch migration loses its triggers: a
migration that rebuilds audit_log must create them again (``create_triggers``).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_audit_log_organisation_id_organisations"
MESSAGE = "audit_log is append-only"

_POSTGRESQL = [
    f"""
    CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'audit rows are only ever added; correct a mistake with a new row';
    END
    $$
    """,
    # Per statement: an UPDATE or DELETE is refused even when it matches no row.
    """
    CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()
    """,
]
_SQLITE = [
    f"""
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END
    """,
    f"""
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END
    """,
]


def create_triggers() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL if postgresql else _SQLITE:
        op.execute(statement)


def drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_refuse_change()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as table:
        table.drop_constraint(FOREIGN_KEY, type_="foreignkey")
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    with op.batch_alter_table("audit_log") as table:
        table.create_foreign_key(
            FOREIGN_KEY, "organisations", ["organisation_id"], ["id"], ondelete="SET NULL"
        )

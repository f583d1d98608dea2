"""The migration that encrypts guests: rows already there are sealed and indexed with the
keys of the database running it, and give their clear values back when downgraded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from store.database import Database
from store.enums import Channel
from store.keyring import KeyringError, is_encrypted
from store.migrate import alembic_config, downgrade, migrate
from store.models import Guest
from store.repositories.inbound import guest_replying
from store.settings import StoreSettings
from tests.factories import make_wedding

# The guests table as the migrations before encryption left it.
OLD_GUESTS = sa.table(
    "guests",
    sa.column("wedding_id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("email", sa.String()),
    sa.column("phone", sa.String()),
    sa.column("rsvp_status", sa.String()),
    sa.column("party_size", sa.Integer()),
    sa.column("dietary_requirements", sa.Text()),
    sa.column("plus_one", sa.Boolean()),
    sa.column("custom_fields", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
CLEAR = [
    ("Ann Lee", "ann@example.com", "+12015550150", "vegan"),
    ("Ben Ode", None, "+12015550151", None),
    ("Cai Wu", "cai@example.com", None, "no nuts"),
]


def _before_encryption() -> str:
    """The revision the encryption migration follows (found by its file, so that
    renumbering the chain does not break this test)."""
    script = ScriptDirectory.from_config(alembic_config())
    for revision in script.walk_revisions():
        if revision.path.endswith("_guests_encrypted.py"):
            assert isinstance(revision.down_revision, str)
            return revision.down_revision
    raise AssertionError("no *_guests_encrypted.py migration")


async def _clear_guests_before_encryption(database: Database) -> tuple[int, int]:
    organisation, wedding = await make_wedding(database)
    await downgrade(database, _before_encryption())
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with database.engine.begin() as connection:
        await connection.execute(
            OLD_GUESTS.insert(),
            [
                {
                    "wedding_id": wedding.id,
                    "name": name,
                    "email": email,
                    "phone": phone,
                    "rsvp_status": "pending",
                    "party_size": 1,
                    "dietary_requirements": dietary,
                    "plus_one": False,
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for name, email, phone, dietary in CLEAR
            ],
        )
    return organisation.id, wedding.id


async def _raw(database: Database) -> list[tuple[str | None, ...]]:
    async with database.engine.connect() as connection:
        result = await connection.execute(
            sa.text("SELECT name, email, phone, dietary_requirements FROM guests ORDER BY id")
        )
        return [tuple(row) for row in result]


async def test_guests_in_clear_are_sealed_by_the_migration_and_opened_by_its_downgrade(
    database: Database,
) -> None:
    organisation_id, wedding_id = await _clear_guests_before_encryption(database)

    await migrate(database)
    for row in await _raw(database):
        assert all(value is None or is_encrypted(value) for value in row)
    async with database.transaction() as session:
        guests = (await session.scalars(sa.select(Guest).order_by(Guest.id))).all()
        assert [(g.name, g.email, g.phone, g.dietary_requirements) for g in guests] == CLEAR
        ben = await guest_replying(session, organisation_id, Channel.SMS, "+12015550151")
        assert ben is not None
        assert ben.name == "Ben Ode"
    # The one-guest-per-address rule now holds on the index.
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            session.add(Guest(wedding_id=wedding_id, name="Ann again", email="ann@example.com"))

    await downgrade(database, _before_encryption())
    assert await _raw(database) == CLEAR
    await migrate(database)


async def test_a_database_with_guests_needs_the_keys_to_migrate(database: Database) -> None:
    await _clear_guests_before_encryption(database)
    url = database.url.render_as_string(hide_password=False)
    keyless = Database(
        StoreSettings(
            database_url=url, redis_url=None, data_encryption_keys=[], data_index_key=None
        )
    )
    try:
        with pytest.raises(KeyringError, match="DATA_ENCRYPTION_KEYS and DATA_INDEX_KEY"):
            await migrate(keyless)
    finally:
        await keyless.dispose()
    # Nothing was changed: the rows are still in clear, at the old revision.
    assert await _raw(database) == CLEAR
    await migrate(database)

"""Running Alembic migrations from code (``guestcomms migrate``, ``serve``, ``dev``, tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from store.database import Database
from store.keyring import Keyring

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do: it only has to be the same in every process, so that
# several web processes starting at once on PostgreSQL migrate one at a time.
_ADVISORY_LOCK_KEY = 0x67756573  # "gues"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(database: Database, revision: str = "head") -> None:
    """Upgrade to ``revision``; migrations that hash personal data (0016) use
    ``database``'s keyring, asked for only if there is something to hash."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade, revision, lambda: database.keyring)


async def downgrade(database: Database, revision: str) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade, revision)


def _upgrade(connection: Connection, revision: str, keyring: Callable[[], Keyring]) -> None:
    _lock(connection)
    config = alembic_config()
    config.attributes["connection"] = connection
    config.attributes["keyring"] = keyring
    command.upgrade(config, revision)


def _downgrade(connection: Connection, revision: str) -> None:
    _lock(connection)
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})

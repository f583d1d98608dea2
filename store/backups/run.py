"""Backing up and restoring whichever database ``DATABASE_URL`` names."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from store.backups import pg_tools
from store.backups.errors import BackupRefused
from store.backups.schema import check_revision
from store.backups.sqlite_files import backup_sqlite, refuse_if_holding_data, restore_sqlite

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    kind: str  # "SQLite file" or "pg_dump custom-format archive"
    bytes: int
    rows: dict[str, int]  # every table's rows at the moment of the backup (SQLite only)


@dataclass(frozen=True, slots=True)
class RestoreReport:
    revision: str  # the schema revision the backup was made with
    rows: dict[str, int]  # every table's rows once restored


async def backup(database_url: str, path: Path) -> BackupReport:
    url = make_url(database_url)
    await asyncio.to_thread(_check_new_file, path)
    if url.get_backend_name() == "sqlite":
        rows = await asyncio.to_thread(backup_sqlite, _sqlite_path(url), path)
        size = await asyncio.to_thread(lambda: path.stat().st_size)
        return BackupReport(path, "SQLite file", size, rows)
    tool = await asyncio.to_thread(pg_tools.find_tool, "pg_dump", await _server_major(url))
    await asyncio.to_thread(pg_tools.dump, tool, url, path)
    size = await asyncio.to_thread(lambda: path.stat().st_size)
    return BackupReport(path, "pg_dump custom-format archive", size, {})


def _check_new_file(path: Path) -> None:
    if path.exists():
        raise BackupRefused(f"{path} already exists; choose a new name, or remove it first")
    if not path.parent.is_dir():
        raise BackupRefused(f"the folder {path.parent} does not exist")


async def restore(database_url: str, path: Path, *, force: bool) -> RestoreReport:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        revision, rows = await asyncio.to_thread(
            restore_sqlite, path, _sqlite_path(url), force=force
        )
        return RestoreReport(revision, rows)
    tool = await asyncio.to_thread(pg_tools.find_tool, "pg_restore", await _server_major(url))
    revision = await asyncio.to_thread(pg_tools.archive_revision, tool, path)
    check_revision(revision, str(path))
    where = url.render_as_string(hide_password=True)
    if not force:
        refuse_if_holding_data(await _postgres_counts(url), where)
    await asyncio.to_thread(pg_tools.restore_archive, tool, url, path)
    return RestoreReport(revision, await _postgres_counts(url))


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupRefused(f"{url.database or 'an in-memory database'} is not a file to back up")
    return Path(url.database)


async def _server_major(url: URL) -> int:
    async def ask(connection: AsyncConnection) -> int:
        number = await connection.scalar(text("SHOW server_version_num"))
        return int(str(number)) // 10_000

    return await _with_connection(url, ask)


async def _postgres_counts(url: URL) -> dict[str, int]:
    async def count(connection: AsyncConnection) -> dict[str, int]:
        names = await connection.scalars(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                "ORDER BY table_name"
            )
        )
        counts = {}
        for name in list(names):
            # Names come from the catalogue itself, quoted.
            query = text(f'SELECT count(*) FROM "{name}"')  # noqa: S608
            counts[str(name)] = int(await connection.scalar(query) or 0)
        return counts

    return await _with_connection(url, count)


async def _with_connection(url: URL, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    engine = create_async_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await work(connection)
    finally:
        await engine.dispose()

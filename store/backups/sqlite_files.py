"""SQLite: a backup is a copy made with SQLite's backup API, and so is a restore.

The copy is taken in one step, inside one read transaction: with the app's
WAL journal, writers go on while it runs and the copy is the database as it
was when the step began — never half of a transaction. It is written next
to the destination and renamed into place, so a failed backup leaves no
half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from store.backups.errors import BackupError, BackupRefused
from store.backups.schema import check_revision

BUSY_TIMEOUT_MS = 10_000


def backup_sqlite(source: Path, target: Path) -> dict[str, int]:
    """Copy the live database at ``source`` into a new file ``target``; its tables' rows."""
    if not source.is_file():
        raise BackupRefused(f"there is no database at {source} to back up")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with _connect(source) as live, _connect(partial) as copy:
            live.backup(copy)  # pages=-1: the whole database in one step
            # One self-contained file: no -wal or -shm beside the backup.
            copy.execute("PRAGMA journal_mode=DELETE")
            _check_integrity(copy, f"the copy of {source}")
            counts = table_counts(copy)
        _sync(partial)
        partial.replace(target)
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"SQLite could not back up {source}: {error}") from None
    return counts


def restore_sqlite(backup: Path, target: Path, *, force: bool) -> tuple[str, dict[str, int]]:
    """Copy ``backup`` over the database at ``target``; its schema revision and rows."""
    revision = read_backup(backup)
    if target.exists() and not force:
        try:
            with _connect(target) as existing:
                counts = table_counts(existing)
        except sqlite3.DatabaseError as error:
            raise BackupRefused(
                f"{target} is not a SQLite database ({error}); restore again with --force "
                "to replace it"
            ) from None
        refuse_if_holding_data(counts, str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _connect_read_only(backup) as source, _connect(target) as live:
            source.backup(live)
            counts = table_counts(live)
    except sqlite3.Error as error:
        raise BackupError(f"SQLite could not restore {backup} into {target}: {error}") from None
    return revision, counts


def read_backup(backup: Path) -> str:
    """The schema revision of a backup file, after checking it is one."""
    if not backup.is_file():
        raise BackupRefused(f"there is no backup at {backup}")
    try:
        with _connect_read_only(backup) as source:
            _check_integrity(source, str(backup))
            row = source.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupRefused(
            f"{backup} is not a guestcomms SQLite backup ({error}); "
            "a PostgreSQL backup restores only into PostgreSQL"
        ) from None
    if row is None:
        raise BackupRefused(f"{backup} has no schema revision: it is not a guestcomms backup")
    revision = str(row[0])
    check_revision(revision, str(backup))
    return revision


def table_counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = [
        str(row[0])
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    # Names come from sqlite_master itself, quoted: nothing from outside reaches the SQL.
    return {
        name: int(connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # noqa: S608
        for name in names
    }


def refuse_if_holding_data(counts: dict[str, int], where: str) -> None:
    holding = {name: n for name, n in counts.items() if n and name != "alembic_version"}
    if holding:
        total = sum(holding.values())
        biggest = ", ".join(
            f"{name} {n}" for name, n in sorted(holding.items(), key=lambda kv: -kv[1])[:3]
        )
        raise BackupRefused(
            f"the database at {where} is not empty ({total} rows in {len(holding)} tables: "
            f"{biggest}); restoring would replace all of it. Stop guestcomms, back it up "
            "first if it matters, then restore again with --force"
        )


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        yield connection
    finally:
        connection.close()


@contextlib.contextmanager
def _connect_read_only(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield connection
    finally:
        connection.close()


def _check_integrity(connection: sqlite3.Connection, what: str) -> None:
    verdict = connection.execute("PRAGMA quick_check").fetchone()
    if verdict is None or verdict[0] != "ok":
        raise BackupRefused(f"{what} is damaged: {verdict[0] if verdict else 'no answer'}")


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

"""``guestcomms backup`` and ``guestcomms restore`` through the CLI's entry point: a backup,
the database wiped, the backup restored, and every table holds what it held — on SQLite
(also with writes going on during the backup) and on PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from bot.cli import main
from store.database import Database
from store.models import AuditEntry, Event
from store.models.base import utcnow
from tests import services
from tests.conftest import open_database
from tests.data_keys import DATA_KEYS_ENV
from tests.dispatch_harness import until

WRITE = "test.backup_write"


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's database, a SQLite file under var/ as on a laptop; returns its path."""
    live = tmp_path / "var" / "guestcomms.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{live}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return live


def sqlite_counts(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(path)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        # Table names from sqlite_master itself.
        query = 'SELECT count(*) FROM "{}"'
        return {n: connection.execute(query.format(n)).fetchone()[0] for n in names}
    finally:
        connection.close()


def wipe_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_sqlite_backup_wipe_restore_keeps_every_row(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-data"]) == 0
    before = sqlite_counts(sqlite_env)
    assert before["guests"] == 40
    capsys.readouterr()

    assert main(["backup", "nightly.db"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"Backed up sqlite+aiosqlite:///{sqlite_env} to nightly.db (SQLite file")
    assert f"{sum(before.values()) - 1:,} rows in {len(before) - 1} tables" in said

    assert main(["backup", "nightly.db"]) == 2
    assert "nightly.db already exists; choose a new name" in capsys.readouterr().err

    # The live database still holds data: restoring over it needs --force.
    assert main(["restore", "nightly.db"]) == 2
    refused = capsys.readouterr().err
    assert refused.startswith(f"Nothing restored: the database at {sqlite_env} is not empty (")
    assert "then restore again with --force." in refused

    wipe_sqlite(sqlite_env)
    assert main(["restore", "nightly.db"]) == 0
    assert capsys.readouterr().out.startswith("Restored nightly.db into sqlite+aiosqlite:///")
    assert sqlite_counts(sqlite_env) == before
    assert main(["restore", "--force", "nightly.db"]) == 0
    assert sqlite_counts(sqlite_env) == before


def test_restore_refuses_what_is_not_a_backup_of_this_guestcomms(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    Path("notes.txt").write_text("not a database")
    assert main(["restore", "notes.txt"]) == 2
    assert "notes.txt is not a guestcomms SQLite backup" in capsys.readouterr().err
    assert main(["restore", "missing.db"]) == 2
    assert "there is no backup at missing.db" in capsys.readouterr().err

    assert main(["backup", "newer.db"]) == 0
    connection = sqlite3.connect("newer.db")
    with connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.close()
    wipe_sqlite(sqlite_env)
    capsys.readouterr()
    assert main(["restore", "newer.db"]) == 2
    assert "newer.db was made by a newer guestcomms (schema revision 9999" in (
        capsys.readouterr().err
    )
    assert not sqlite_env.exists() or sqlite_counts(sqlite_env).get("guests", 0) == 0


async def _write_pairs(database: Database, stop: asyncio.Event, written: list[int]) -> None:
    """The app at work: each transaction adds an event and its audit row, so any
    consistent copy holds as many of one as of the other."""
    while not stop.is_set():
        async with database.transaction() as session:
            session.add(Event(kind=WRITE, payload={"n": len(written)}))
            session.add(
                AuditEntry(
                    actor="system",
                    action=WRITE,
                    entity_type="event",
                    entity_id=str(len(written)),
                    created_at=utcnow(),
                )
            )
        written.append(1)
        await asyncio.sleep(0)


async def test_a_sqlite_backup_taken_while_the_app_writes_is_consistent(
    sqlite_env: Path, tmp_path: Path
) -> None:
    assert await asyncio.to_thread(main, ["demo-data"]) == 0
    database = open_database(f"sqlite+aiosqlite:///{sqlite_env}")
    stop, written = asyncio.Event(), list[int]()
    writer = asyncio.create_task(_write_pairs(database, stop, written))
    try:
        await until(lambda: len(written) >= 50, what="50 writes")
        assert await asyncio.to_thread(main, ["backup", str(tmp_path / "busy.db")]) == 0
        at_backup = len(written)
        await until(lambda: len(written) >= at_backup + 50, what="writes after the backup")
    finally:
        stop.set()
        await writer
        await database.dispose()

    copy = sqlite_counts(tmp_path / "busy.db")
    copied = sqlite3.connect(tmp_path / "busy.db")
    events = copied.execute("SELECT count(*) FROM events WHERE kind = ?", (WRITE,)).fetchone()[0]
    audits = copied.execute("SELECT count(*) FROM audit_log WHERE action = ?", (WRITE,)).fetchone()[
        0
    ]
    copied.close()
    assert events == audits > 0  # never half of a transaction
    assert events < len(written)  # the app went on writing after the copy was taken

    wipe_sqlite(sqlite_env)
    assert await asyncio.to_thread(main, ["restore", str(tmp_path / "busy.db")]) == 0
    assert sqlite_counts(sqlite_env) == copy


def _pg_dump_or_skip() -> None:
    if shutil.which("pg_dump") and shutil.which("pg_restore"):
        return
    reason = "pg_dump/pg_restore are not installed (make pg-client installs postgresql-client)"
    if services.IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def postgres_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    _pg_dump_or_skip()
    admin_url = services.required_env("TEST_DATABASE_URL", "PostgreSQL")
    url = services.create_postgres_database(admin_url)
    monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
    for name, value in DATA_KEYS_ENV.items():  # a server install must give the data keys
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    yield url
    services.drop_postgres_database(admin_url, url)


async def postgres_counts(url: URL) -> dict[str, int]:
    database = open_database(url)
    try:
        async with database.engine.connect() as connection:
            names = list(
                await connection.scalars(
                    text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                    )
                )
            )
            return {
                name: int(await connection.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0)  # noqa: S608
                for name in names
            }
    finally:
        await database.dispose()


async def wipe_postgres(url: URL) -> None:
    database = open_database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await database.dispose()


@pytest.mark.integration
async def test_postgres_backup_wipe_restore_keeps_every_row(
    postgres_env: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres_env
    assert await asyncio.to_thread(main, ["demo-data"]) == 0
    before = await postgres_counts(url)
    assert before["guests"] == 40
    capsys.readouterr()

    assert await asyncio.to_thread(main, ["backup", "nightly.dump"]) == 0
    assert "to nightly.dump (pg_dump custom-format archive" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["restore", "nightly.dump"]) == 2
    assert "is not empty (" in capsys.readouterr().err

    await wipe_postgres(url)
    assert await postgres_counts(url) == {}
    assert await asyncio.to_thread(main, ["restore", "nightly.dump"]) == 0
    assert "Restored nightly.dump into postgresql+asyncpg://" in capsys.readouterr().out
    assert await postgres_counts(url) == before

    # Over a database that holds data, with --force: the same rows, not twice as many.
    assert await asyncio.to_thread(main, ["restore", "--force", "nightly.dump"]) == 0
    assert await postgres_counts(url) == before
    # A SQLite file is not a PostgreSQL backup, and the message says so.
    sqlite3.connect("other.db").execute("CREATE TABLE t (x)").connection.close()
    assert await asyncio.to_thread(main, ["restore", "--force", "other.db"]) == 2
    assert "other.db is not a PostgreSQL backup made by guestcomms backup" in (
        capsys.readouterr().err
    )

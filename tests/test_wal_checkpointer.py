"""The WAL's checkpoints on a thread of their own (``store/wal_checkpointer.py``): a
write's pages reach the database file without any commit copying them there, the
commits' own checkpoint is only a backstop, and the thread goes when it is not needed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from store.database import Database
from store.wal_checkpointer import BACKSTOP_PAGES, WalCheckpointer
from tests.data_keys import store_settings

ROWS = 2_000  # ~300 pages of 4 KiB: well under any autocheckpoint


def _checkpointer_threads_for(tmp_path: Path) -> list[threading.Thread]:
    """The running checkpointer threads of databases under ``tmp_path``."""
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("wal-checkpointer") and str(tmp_path) in t.name
    ]


def _eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A WAL database whose own commits never checkpoint."""
    connection = sqlite3.connect(tmp_path / "log.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, words TEXT NOT NULL)")
    yield connection
    connection.close()


def _write(connection: sqlite3.Connection, rows: int = ROWS) -> None:
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        "INSERT INTO notes (words) VALUES (?)", [("x" * 500,) for _ in range(rows)]
    )
    connection.execute("COMMIT")


def test_written_pages_reach_the_database_file_with_no_commit_copying_them(
    tmp_path: Path, writer: sqlite3.Connection
) -> None:
    path = tmp_path / "log.db"
    before = path.stat().st_size
    _write(writer)
    # In WAL mode only a checkpoint writes to the database file itself.
    assert path.stat().st_size == before
    checkpointer = WalCheckpointer(str(path), settle_seconds=0.01)
    try:
        checkpointer.wrote()
        assert _eventually(lambda: checkpointer.checkpoints >= 1)
        assert path.stat().st_size > before + ROWS * 500
        # Everything in the log is in the file: nothing is left to copy.
        busy, in_log, copied = writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert (busy, copied) == (0, in_log)
    finally:
        checkpointer.close()


def test_writers_go_on_while_checkpoints_run(tmp_path: Path, writer: sqlite3.Connection) -> None:
    """A passive checkpoint takes no write lock: a writer that will not wait at all
    commits again and again while checkpoints run, and every row it wrote is there."""
    checkpointer = WalCheckpointer(str(tmp_path / "log.db"), settle_seconds=0.0)
    writer.execute("PRAGMA busy_timeout=0")
    writes = 0
    try:
        deadline = time.monotonic() + 20
        while checkpointer.checkpoints < 5 and time.monotonic() < deadline:
            _write(writer, 200)
            writes += 1
            checkpointer.wrote()
        assert checkpointer.checkpoints >= 5
    finally:
        checkpointer.close()
    assert writer.execute("SELECT count(*) FROM notes").fetchone() == (writes * 200,)


def test_close_ends_the_thread_and_no_write_starts_another(
    tmp_path: Path, writer: sqlite3.Connection
) -> None:
    checkpointer = WalCheckpointer(str(tmp_path / "log.db"), settle_seconds=0.01)
    try:
        checkpointer.wrote()
        assert _eventually(lambda: checkpointer.checkpoints >= 1)
        assert _checkpointer_threads_for(tmp_path)
    finally:
        checkpointer.close()
    assert not _checkpointer_threads_for(tmp_path)
    checkpointer.wrote()
    assert not _checkpointer_threads_for(tmp_path)


def test_an_idle_thread_goes_and_the_next_write_brings_one_back(
    tmp_path: Path, writer: sqlite3.Connection
) -> None:
    path = tmp_path / "log.db"
    checkpointer = WalCheckpointer(str(path), settle_seconds=0.01, idle_seconds=0.05)
    try:
        checkpointer.wrote()
        assert _eventually(lambda: not _checkpointer_threads_for(tmp_path))
        before = path.stat().st_size
        _write(writer)
        checkpointer.wrote()
        assert _eventually(lambda: path.stat().st_size > before + ROWS * 500)
    finally:
        checkpointer.close()


def test_a_database_file_it_cannot_open_is_neither_made_nor_tried_at_every_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gone.db"
    checkpointer = WalCheckpointer(str(path), settle_seconds=0.01, idle_seconds=0.2)
    try:
        checkpointer.wrote()  # the thread logs why, and waits before it goes
        checkpointer.wrote()
        assert len(_checkpointer_threads_for(tmp_path)) <= 1
        assert _eventually(lambda: not _checkpointer_threads_for(tmp_path))
        assert not path.exists()
        checkpointer.wrote()  # tried again after the wait
        assert _eventually(lambda: not _checkpointer_threads_for(tmp_path))
        assert not path.exists()
        assert checkpointer.checkpoints == 0
    finally:
        checkpointer.close()


async def test_a_database_file_is_checkpointed_off_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "guestcomms.db"
    database = Database(store_settings(f"sqlite+aiosqlite:///{path}"))
    try:
        async with database.transaction() as session:
            # The commits' own checkpoint is only the backstop.
            assert (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == (
                BACKSTOP_PAGES
            )
            await session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, words TEXT)"))
        before = path.stat().st_size
        for _ in range(5):
            async with database.transaction(quick=True) as session:
                await session.execute(
                    text("INSERT INTO notes (words) VALUES (:words)"),
                    [{"words": "x" * 500} for _ in range(ROWS // 5)],
                )
        grown = await asyncio.to_thread(
            _eventually, lambda: path.stat().st_size > before + ROWS * 500
        )
        assert grown
        assert _checkpointer_threads_for(tmp_path)
    finally:
        await database.dispose()
    assert not _checkpointer_threads_for(tmp_path)

"""SQLite through ``store.sqlite_driver``: what SQLAlchemy reads back is what aiosqlite's
own cursors gave (rows, RETURNING, row counts, errors, streamed results), in one trip to
the connection's thread a statement."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from store.database import BUSY_TIMEOUT_MS, Database
from store.sqlite_driver import FewHopsConnection
from tests.data_keys import store_settings


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    database = Database(store_settings(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"))
    async with database.transaction() as session:
        await session.execute(
            text("CREATE TABLE notes (id INTEGER PRIMARY KEY, word TEXT NOT NULL UNIQUE)")
        )
    return database


class Trips:
    """Counts the calls a connection queues to its thread (aiosqlite's ``_execute``)."""

    def __init__(self, connection: FewHopsConnection) -> None:
        self.count = 0
        queue_call = connection._execute

        async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await queue_call(function, *args, **kwargs)

        connection._execute = counted  # type: ignore[method-assign, assignment]


async def test_rows_returning_and_counts_come_back(database: Database) -> None:
    try:
        async with database.transaction() as session:
            inserted = await session.execute(
                text("INSERT INTO notes (word) VALUES ('a'), ('b') RETURNING id, word")
            )
            assert inserted.all() == [(1, "a"), (2, "b")]
            connection = await session.connection()
            many = await connection.execute(
                text("INSERT INTO notes (word) VALUES (:word)"), [{"word": "c"}, {"word": "d"}]
            )
            assert many.rowcount == 2
            updated = await connection.execute(text("UPDATE notes SET word = word || '!'"))
            assert updated.rowcount == 4
        async with database.reading() as session:
            words = await session.scalars(text("SELECT word FROM notes ORDER BY id"))
            assert list(words) == ["a!", "b!", "c!", "d!"]
            streamed = await session.stream(text("SELECT id FROM notes ORDER BY id"))
            assert [row async for row in streamed.scalars()] == [1, 2, 3, 4]
    finally:
        await database.dispose()


async def test_errors_are_the_databases_own_and_roll_back(database: Database) -> None:
    try:
        with pytest.raises(IntegrityError, match="UNIQUE"):
            await _insert_twice(database, "x")
        with pytest.raises(OperationalError, match="no such table"):
            async with database.reading() as session:
                await session.execute(text("SELECT * FROM nowhere"))
        async with database.reading() as session:
            assert await session.scalar(text("SELECT count(*) FROM notes")) == 0
    finally:
        await database.dispose()


async def _insert_twice(database: Database, word: str) -> None:
    async with database.transaction() as session:
        for _ in range(2):
            await session.execute(text("INSERT INTO notes (word) VALUES (:word)"), {"word": word})


async def test_one_trip_to_the_thread_a_statement(database: Database) -> None:
    try:
        async with database.transaction() as session:
            connection = await session.connection()
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert isinstance(driver, FewHopsConnection)
            trips = Trips(driver)
            result = await session.execute(
                text("INSERT INTO notes (word) VALUES ('e'), ('f') RETURNING id")
            )
            assert len(result.all()) == 2
            await session.execute(text("SELECT word FROM notes"))
            # aiosqlite's cursors take four each: open, execute, fetch, close.
            assert trips.count == 2
    finally:
        await database.dispose()


async def _thread_of_statements(session: AsyncSession) -> int:
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert isinstance(driver, FewHopsConnection)
    driver._conn.create_function("statement_thread", 0, threading.get_ident)
    thread: int = await session.scalar(text("SELECT statement_thread()"))
    return thread


async def test_a_quick_transaction_runs_its_statements_on_the_loop_thread(
    database: Database,
) -> None:
    async with database.transaction(quick=True) as session:
        assert await _thread_of_statements(session) == threading.get_ident()
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        assert isinstance(driver, FewHopsConnection)
        trips_before = driver._trips_sent
        await session.execute(text("INSERT INTO notes (word) VALUES ('quick')"))
    assert driver._trips_sent == trips_before  # the COMMIT too: no trip at all
    # Once it ended, the same connection makes its trips again.
    async with database.transaction() as session:
        assert await _thread_of_statements(session) != threading.get_ident()
    async with database.reading() as session:
        assert list(await session.scalars(text("SELECT word FROM notes"))) == ["quick"]


async def test_a_quick_transaction_that_raises_leaves_nothing(database: Database) -> None:
    async def twice() -> None:
        async with database.transaction(quick=True) as session:
            await session.execute(text("INSERT INTO notes (word) VALUES ('once')"))
            await session.execute(text("INSERT INTO notes (word) VALUES ('once')"))

    with pytest.raises(IntegrityError):
        await twice()
    async with database.transaction(quick=True) as session:
        await session.execute(text("INSERT INTO notes (word) VALUES ('after')"))
    async with database.reading() as session:
        assert list(await session.scalars(text("SELECT word FROM notes"))) == ["after"]


async def test_a_quick_transaction_waits_for_another_writer_off_the_loop(
    database: Database, tmp_path: Path
) -> None:
    # Another process's writer (here a plain connection on a thread) holds the lock.
    holding, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO notes (word) VALUES ('theirs')")
        holding.set()
        release.wait(10)
        other.execute("COMMIT")
        other.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    await asyncio.to_thread(holding.wait, 10)

    async def ours() -> None:
        async with database.transaction(quick=True) as session:
            await session.execute(text("INSERT INTO notes (word) VALUES ('ours')"))

    gaps: list[float] = []

    async def meanwhile() -> None:
        # The loop goes on while our BEGIN waits for the lock on the connection's thread
        # (waiting on the event loop, it would stand still up to the busy timeout).
        last = time.monotonic()
        while len(gaps) < 5:
            await asyncio.sleep(0.01)
            gaps.append(time.monotonic() - last)
            last = time.monotonic()
        release.set()

    await asyncio.gather(meanwhile(), ours())  # the ticker's clock starts first
    writer.join(10)
    # Waiting on the loop would show as a gap of the whole busy timeout (10 s).
    assert max(gaps) < 2.0 < BUSY_TIMEOUT_MS / 1000
    async with database.reading() as session:
        words = await session.scalars(text("SELECT word FROM notes ORDER BY id"))
        assert list(words) == ["theirs", "ours"]

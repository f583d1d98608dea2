"""A quick writer (``Database.quick_writer``): back-to-back quick transactions that on
SQLite keep one connection, hand it back when done or when one failed, and leave the
other writers of the process their turn between them."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import QueuePool

from store.database import Database, QuickWriter, keyring_of
from store.models import Event


async def _driver(session: AsyncSession) -> object:
    connection = await session.connection()
    return (await connection.get_raw_connection()).driver_connection


def _checked_out(database: Database) -> int:
    pool = database.engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


async def _kinds(database: Database) -> list[str]:
    async with database.reading() as session:
        return sorted(await session.scalars(select(Event.kind)))


async def test_transactions_commit_on_one_connection_handed_back_at_the_end(
    sqlite_database: Database,
) -> None:
    database = sqlite_database
    drivers = []
    async with database.quick_writer() as writer:
        for kind in ("first", "second"):
            async with writer.transaction() as session:
                await session.execute(insert(Event).values(kind=kind, payload={}))
                drivers.append(await _driver(session))
                keyring_of(session)  # a Database's session: the keys are reachable
            # Committed: visible to a reader before the writer is done.
            assert kind in await _kinds(database)
        assert _checked_out(database) == 1
    assert drivers[0] is drivers[1]
    assert _checked_out(database) == 0


async def test_objects_added_to_the_session_are_committed_unflushed(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.quick_writer() as writer, writer.transaction() as session:
        session.add(Event(kind="added", payload={}))  # no flush: the commit's to do
    assert await _kinds(sqlite_database) == ["added"]


async def test_a_failed_transaction_leaves_nothing_and_hands_its_connection_back(
    sqlite_database: Database,
) -> None:
    database = sqlite_database

    async def refused(writer: QuickWriter) -> None:
        async with writer.transaction() as session:
            await session.execute(insert(Event).values(kind="lost", payload={}))
            raise ValueError("refused")

    async with database.quick_writer() as writer:
        with pytest.raises(ValueError, match="refused"):
            await refused(writer)
        assert _checked_out(database) == 0
        # (The pool's reset rolled it back; a broken one the pool would have dropped.)
        async with writer.transaction() as session:
            await session.execute(insert(Event).values(kind="kept", payload={}))
    assert await _kinds(database) == ["kept"]


async def test_other_writers_have_their_turn_between_its_transactions(
    database: Database,
) -> None:
    async with database.quick_writer() as writer:
        async with writer.transaction() as session:
            await session.execute(insert(Event).values(kind="writer", payload={}))
        # The writer still holds its connection, not the write turn.
        async with asyncio.timeout(5):
            async with database.transaction() as session:
                await session.execute(insert(Event).values(kind="other", payload={}))
        async with writer.transaction() as session:
            count = await session.scalar(select(func.count()).select_from(Event))
    assert count == 2
    assert await _kinds(database) == ["other", "writer"]


async def test_dispose_takes_back_the_connection_of_a_writer_between_transactions(
    sqlite_database: Database,
) -> None:
    database = sqlite_database
    pool = database.engine.pool
    async with database.quick_writer() as writer:
        async with writer.transaction() as session:
            await session.execute(insert(Event).values(kind="before", payload={}))
        assert _checked_out(database) == 1  # kept, as a lingering writer keeps it
        await database.dispose()  # the server stopping
        assert isinstance(pool, QueuePool)
        assert pool.checkedout() == 0
    assert await _kinds(database) == ["before"]

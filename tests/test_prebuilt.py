"""Prebuilt statements on SQLite (``store/prebuilt.py``): bound by the column types'
own processors and run for all rows in one trip, they store exactly what
SQLAlchemy's own execution stores, return the same RETURNING rows, raise the
same errors, and never write outside the session's transaction."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from store import prebuilt
from store.audit import _ADD_ROWS
from store.database import Database
from store.enums import Channel, InboundClass, RsvpStatus, SuppressionReason
from store.models.base import utcnow
from store.repositories.inbound import _ADD_EVENTS, _RECORD_ARRIVALS, _REPLIERS, _SET_RSVPS
from store.repositories.suppressions import _SUPPRESS
from store.sqlite_driver import FewHopsConnection, connect
from tests.conftest import open_database, sqlite_url
from tests.dispatch_harness import make_guests
from tests.test_sqlite_driver import Trips


@pytest.fixture
async def twins(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[tuple[Database, Database]]:
    """Two copies of one migrated database, with the same organisation and guests."""
    paths = [tmp_path / "fast.db", tmp_path / "sqlalchemy.db"]
    for path in paths:
        shutil.copy(sqlite_template, path)
    fast, slow = (open_database(sqlite_url(path)) for path in paths)
    try:
        for database in (fast, slow):
            await make_guests(database, 2)
        yield fast, slow
    finally:
        await fast.dispose()
        await slow.dispose()


def _statements(
    organisation_id: int, guest_id: int, now: Any = None
) -> list[tuple[Any, list[dict[str, Any]]]]:
    """Each hot statement with rows as its callers give them (two sharing a timestamp)."""
    now = now or utcnow()
    arrivals = [
        {
            "organisation_id": organisation_id,
            "guest_id": guest,
            "classification": InboundClass.OPT_OUT if guest is None else InboundClass.RSVP,
            "channel": Channel.SMS,
            "provider": "twilio",
            "provider_message_id": f"SM{n}",
            "from_address": "+12015550123",
            "to_address": "+12015550100",
            "body": body,
            "received_at": now,
        }
        for n, (guest, body) in enumerate([(None, "STOP"), (guest_id, "Yes, 2 of us – été")])
    ]
    suppressions = [
        {
            "organisation_id": organisation_id,
            "channel": Channel.SMS,
            "address": "+12015550123",
            "address_hash": "a" * 64,
            "reason": SuppressionReason.STOP,
            "source": "sms_reply",
            "detail": None,
            "created_at": now,
        }
    ]
    audit_rows = [
        {
            "organisation_id": organisation_id,
            "actor": "guest:inbound-1",
            "action": "suppression.added",
            "entity_type": "suppression",
            "entity_id": "1",
            "before": before,
            "after": {"channel": "sms", "reason": "stop", "party_size": 2},
            "request_id": None,
            "created_at": now,
        }
        for before in (None, {"rsvp_status": "pending"})
    ]
    events = [
        {
            "organisation_id": organisation_id,
            "kind": "guest.replied",
            "payload": {"inbound_message_id": 1, "review": False, "rsvp": None},
            "created_at": now,
        }
    ]
    rsvps = [{"guest_id": guest_id, "status": RsvpStatus.CONFIRMED, "size": 2, "now": now}]
    return [
        (_RECORD_ARRIVALS, arrivals),
        (_SUPPRESS, suppressions),
        (_ADD_ROWS, audit_rows),
        (_ADD_EVENTS, events),
        (_SET_RSVPS, rsvps),
    ]


# What the statements write: the new rows of four tables and the guests' RSVP columns
# (the rest of each database, made by ``make_guests``, differs in timestamps and nonces).
QUERIES = {
    "inbound_messages": "SELECT * FROM inbound_messages ORDER BY id",
    "suppressions": "SELECT * FROM suppressions ORDER BY id",
    "audit_log": "SELECT * FROM audit_log WHERE actor LIKE 'guest:%' ORDER BY id",
    "events": "SELECT * FROM events ORDER BY id",
    "guests": (
        "SELECT id, rsvp_status, party_size, updated_at FROM guests "
        "WHERE rsvp_status != 'pending' ORDER BY id"
    ),
}


async def _stored(database: Database) -> dict[str, list[Any]]:
    async with database.reading() as session:
        return {
            table: list((await session.execute(text(query))).all())
            for table, query in QUERIES.items()
        }


async def _ids(database: Database) -> tuple[int, int]:
    async with database.reading() as session:
        row = (await session.execute(text("SELECT wedding_id, min(id) FROM guests"))).one()
        organisation_id = await session.scalar(
            text("SELECT organisation_id FROM weddings WHERE id = :id"), {"id": row[0]}
        )
        return int(organisation_id or 0), int(row[1])


async def _through_sqlalchemy(
    database: Database, statement: Any, rows: Sequence[Mapping[str, Any]]
) -> list[Sequence[Any]]:
    async with database.transaction() as session:
        connection = await session.connection()
        if isinstance(statement, prebuilt.PerDialect):
            statement = statement.for_dialect(connection.dialect)
        return await prebuilt._through_sqlalchemy(connection, statement, rows)


async def test_the_fast_path_stores_and_returns_what_sqlalchemy_does(
    twins: tuple[Database, Database],
) -> None:
    fast, slow = twins
    before = await _stored(slow)
    organisation_id, guest_id = await _ids(slow)
    assert await _ids(fast) == (organisation_id, guest_id)
    for statement, rows in _statements(organisation_id, guest_id):
        async with fast.transaction() as session:
            returned_fast = await prebuilt.run(session, statement, rows)
        returned_slow = await _through_sqlalchemy(slow, statement, rows)
        assert [tuple(row) for row in returned_fast] == [tuple(row) for row in returned_slow]

    stored = await _stored(fast)
    assert stored == await _stored(slow)
    # Every statement wrote (the comparison is not of unchanged tables).
    assert all(stored[table] != before[table] for table in QUERIES)


async def test_the_repliers_read_gives_what_sqlalchemy_reads(
    twins: tuple[Database, Database],
) -> None:
    fast, _ = twins
    async with fast.reading() as session:
        found = (
            await session.execute(
                text(
                    "SELECT w.organisation_id, g.phone_index FROM guests g "
                    "JOIN weddings w ON w.id = g.wedding_id WHERE g.phone_index IS NOT NULL"
                )
            )
        ).all()
    assert len(found) == 2
    rows = [
        {
            "channel": Channel.SMS,
            "organisations": sorted({organisation for organisation, _ in found}),
            "indexes": [index for _, index in found],
            "addresses": ["+12015550123"],
        }
    ]
    statement = _REPLIERS[Channel.SMS]
    async with fast.transaction() as session:
        read_fast = await prebuilt.run(session, statement, rows)
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, FewHopsConnection)
        trips = Trips(driver)
        await prebuilt.run(session, statement, rows)
        assert trips.count == 1  # one trip, not through SQLAlchemy's execution
    read_slow = await _through_sqlalchemy(fast, statement, rows)
    assert len(read_fast) == 2
    assert sorted(map(tuple, read_fast)) == sorted(map(tuple, read_slow))


async def test_the_hot_statements_take_the_fast_path(sqlite_database: Database) -> None:
    await make_guests(sqlite_database, 1)
    statements = _statements(*await _ids(sqlite_database))
    executed: list[str] = []

    def note(*args: Any) -> None:
        executed.append(args[2])

    async with sqlite_database.transaction() as session:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, FewHopsConnection)
        trips = Trips(driver)
        event.listen(sqlite_database.engine.sync_engine, "before_cursor_execute", note)
        try:
            for statement, rows in statements:
                await prebuilt.run(session, statement, rows)
        finally:
            event.remove(sqlite_database.engine.sync_engine, "before_cursor_execute", note)
    # One trip a statement with RETURNING, however many rows; those without ride
    # along with the COMMIT's trip; none through SQLAlchemy's execution.
    returning = [s for s, _ in statements if s in (_RECORD_ARRIVALS, _SUPPRESS)]
    assert len(returning) == 2
    assert trips.count == len(returning) + 1
    assert executed == []


async def test_errors_are_sqlalchemys_and_roll_the_transaction_back(
    sqlite_database: Database,
) -> None:
    await make_guests(sqlite_database, 1)
    [(statement, rows)] = [
        s for s in _statements(*await _ids(sqlite_database)) if s[0] is _ADD_EVENTS
    ]
    unknown_organisation = [{**rows[0], "organisation_id": 999}, *rows]
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        async with sqlite_database.transaction() as session:
            await prebuilt.run(session, statement, unknown_organisation)
    async with sqlite_database.reading() as session:
        assert await session.scalar(text("SELECT count(*) FROM events")) == 0


async def test_a_deferred_write_that_fails_raises_from_the_next_statement_naming_itself(
    sqlite_database: Database,
) -> None:
    await make_guests(sqlite_database, 1)
    statements = dict(_statements(*await _ids(sqlite_database)))
    unknown_organisation = [{**statements[_ADD_EVENTS][0], "organisation_id": 999}]

    async def event_then_arrivals() -> None:
        async with sqlite_database.transaction() as session:
            # No RETURNING: deferred to the next trip, which is the arrivals' INSERT.
            assert await prebuilt.run(session, _ADD_EVENTS, unknown_organisation) == []
            await prebuilt.run(session, _RECORD_ARRIVALS, statements[_RECORD_ARRIVALS])

    with pytest.raises(IntegrityError, match="FOREIGN KEY") as raised:
        await event_then_arrivals()
    assert str(raised.value.statement).startswith("INSERT INTO events")
    async with sqlite_database.reading() as session:
        assert await session.scalar(text("SELECT count(*) FROM events")) == 0
        assert await session.scalar(text("SELECT count(*) FROM inbound_messages")) == 0


async def test_a_transaction_whose_deferred_write_failed_can_only_roll_back(
    sqlite_database: Database,
) -> None:
    await make_guests(sqlite_database, 1)
    statements = dict(_statements(*await _ids(sqlite_database)))
    unknown_organisation = [{**statements[_ADD_EVENTS][0], "organisation_id": 999}]

    async def carry_on_regardless() -> None:
        async with sqlite_database.transaction() as session:
            await prebuilt.run(session, _ADD_ROWS, statements[_ADD_ROWS])
            await prebuilt.run(session, _ADD_EVENTS, unknown_organisation)
            await prebuilt.run(session, _SET_RSVPS, statements[_SET_RSVPS])  # never runs
            with contextlib.suppress(IntegrityError):
                await prebuilt.run(session, _RECORD_ARRIVALS, statements[_RECORD_ARRIVALS])

    with pytest.raises(OperationalError, match="can only be rolled back"):
        await carry_on_regardless()
    async with sqlite_database.reading() as session:
        guests_rows = "SELECT count(*) FROM audit_log WHERE actor LIKE 'guest:%'"
        assert await session.scalar(text(guests_rows)) == 0
        assert await session.scalar(text("SELECT count(*) FROM events")) == 0
    # The connection is usable again once rolled back.
    async with sqlite_database.transaction() as session:
        await prebuilt.run(session, _ADD_EVENTS, statements[_ADD_EVENTS])
    async with sqlite_database.reading() as session:
        assert await session.scalar(text("SELECT count(*) FROM events")) == 1


async def test_rows_are_never_written_outside_a_transaction(tmp_path: Path) -> None:
    driver = connect(str(tmp_path / "bare.db"), isolation_level=None)
    await driver
    try:
        await driver.execute("CREATE TABLE notes (word TEXT)")
        with pytest.raises(sqlite3.ProgrammingError, match="open transaction"):
            await driver.run_rows("INSERT INTO notes VALUES (?)", [("a",)], returning=False)
        driver.defer("INSERT INTO notes VALUES (?)", [("b",)])
        with pytest.raises(sqlite3.ProgrammingError, match="open transaction"):
            await driver.execute("SELECT 1")
        async with driver.execute("SELECT count(*) FROM notes") as cursor:
            assert await cursor.fetchone() == (0,)
    finally:
        await driver.close()


async def test_a_connection_handed_back_after_commit_is_not_rolled_back_again(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.transaction() as session:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, FewHopsConnection)
        trips = Trips(driver)
        await session.execute(text("SELECT 1"))
    # The statement and the COMMIT; the pool's reset of a connection with nothing
    # open (a ROLLBACK) costs no trip.
    assert trips.count == 2
    with pytest.raises(ValueError, match="refused"):
        await _refused_transaction(sqlite_database)
    # A transaction that did not commit is rolled back, as ever: BEGIN and DELETE
    # (the BEGIN rides along with the first statement), then ROLLBACK.
    assert trips.count == 4
    # One that ran nothing never reached SQLite: its BEGIN is dropped with it.
    with pytest.raises(ValueError, match="refused"):
        await _refused_transaction(sqlite_database, statement=None)
    assert trips.count == 4


async def _refused_transaction(
    database: Database, statement: str | None = "DELETE FROM events"
) -> None:
    async with database.transaction() as session:
        if statement is None:
            await session.connection()  # begun, nothing run
        else:
            await session.execute(text(statement))
        raise ValueError("refused")

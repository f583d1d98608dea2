"""Statements built once and run on the session's connection: for the hot paths' writes.

Building ``insert(table).on_conflict_do_nothing(…).returning(…)`` and
generating its cache key costs about 50 µs each time, and the ORM layer of
``session.execute`` another 20 µs, before SQLAlchemy finds the compiled form
it cached the first time. The group commit of guests' replies runs half a
dozen such writes a batch. A statement object built once keeps its cache key,
so each run goes straight to the compiled form; run through
``Connection.execute`` it skips the ORM's execution layer, which a Core
statement on a table does not need — the same transaction, the same
connection, no autoflush (callers flush first where a write depends on
pending ORM objects; these do not).

On SQLite (``store/sqlite_driver.py``) they go further: SQLAlchemy's async
execution of one statement (a greenlet, an execution context, a result) costs
60–90 µs of the event loop's time, several times the statement itself. So a
prebuilt statement is compiled by SQLAlchemy once — its SQL and, for each
parameter, the bind processor of its column type for this dialect (the
enums' values, UTC timestamps, JSON, sealed text and blind indexes, exactly
as SQLAlchemy would bind them) — and then run for all its rows in one trip
to the connection's thread, inside the session's transaction; a
statement without RETURNING not even that: it rides along with the
transaction's next trip (its next statement or its COMMIT), as the driver's
``defer`` describes.
A SELECT without expanding lists (the replying guests' read, whose lists
are JSON arrays on SQLite) goes the same way, its rows read by its columns'
result processors. Statements this cannot reproduce exactly (Python-side
column defaults to compute, expanding IN lists) keep SQLAlchemy's own
execution, as PostgreSQL does throughout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine

from store.sqlite_driver import FewHopsConnection, deferred_statement

Processor = Callable[[Any], Any]


class PerDialect:
    """A statement whose form depends on the dialect (INSERT … ON CONFLICT is
    PostgreSQL's or SQLite's), built on first use for each."""

    def __init__(self, build: Callable[[str], Executable]) -> None:
        self._build = build
        self._built: dict[str, Executable] = {}

    def for_dialect(self, dialect: Dialect) -> Executable:
        statement = self._built.get(dialect.name)
        if statement is None:
            statement = self._built[dialect.name] = self._build(dialect.name)
        return statement


async def run(
    session: AsyncSession,
    statement: Executable | PerDialect,
    rows: Sequence[Mapping[str, Any]],
) -> list[Sequence[Any]]:
    """Execute ``statement`` for ``rows`` on the session's connection, inside its
    transaction; the rows its RETURNING gave (none without one), or a SELECT's rows."""
    connection, driver = await _connection(session)
    if isinstance(statement, PerDialect):
        statement = statement.for_dialect(connection.dialect)
    if rows and driver is not None:
        compiled = _compiled(statement, connection.dialect, rows[0].keys())
        if compiled is not None:
            return await compiled.run(driver, rows)
    return await _through_sqlalchemy(connection, statement, rows)


_CONNECTION = "guestcomms.prebuilt.connection"


async def _connection(session: AsyncSession) -> tuple[AsyncConnection, FewHopsConnection | None]:
    """The session's connection (and the SQLite driver's, when it is ours), kept in the
    session for the rest of its transaction: asking the session costs a greenlet and
    its transaction bookkeeping, 50–80 µs, and a batch runs several statements."""
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(_CONNECTION)
    if kept is not None and transaction is not None and transaction.is_active:
        kept_transaction, connection, driver = kept
        if kept_transaction is transaction:
            return connection, driver
    connection = await session.connection()  # begins the transaction if need be
    driver = None
    if connection.dialect.name == "sqlite":
        raw = (await connection.get_raw_connection()).driver_connection
        driver = raw if isinstance(raw, FewHopsConnection) else None
    session.info[_CONNECTION] = (session.sync_session.get_transaction(), connection, driver)
    return connection, driver


async def _through_sqlalchemy(
    connection: AsyncConnection, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> list[Sequence[Any]]:
    # executemany; one multi-row INSERT … RETURNING where the dialect can.
    result = await connection.execute(statement, list(rows))
    return list(result) if result.returns_rows else []


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement as SQLAlchemy compiled it for SQLite, with what binding each
    parameter and reading each returned column takes."""

    sql: str
    names: tuple[str, ...]  # the positional parameters, in order
    # (position, bind processor, whether the column holds timestamps) of each
    # parameter that has a processor; the others are bound as they are.
    binders: tuple[tuple[int, Processor, bool], ...]
    readers: tuple[Processor | None, ...] | None  # None: no RETURNING

    async def run(
        self, driver: FewHopsConnection, rows: Sequence[Mapping[str, Any]]
    ) -> list[Sequence[Any]]:
        # A batch's rows share their timestamp: bound once (4–5 µs each time).
        times: dict[Any, Any] = {}
        bound: list[tuple[Any, ...]] = []
        names, binders = self.names, self.binders
        for row in rows:
            values = [row[name] for name in names]
            for position, binder, timestamp in binders:
                value = values[position]
                if timestamp:  # by column too: two columns' types may bind it differently
                    done = times.get((position, value))
                    if done is None:
                        done = times[(position, value)] = binder(value)
                    values[position] = done
                else:
                    values[position] = binder(value)
            bound.append(tuple(values))
        if self.readers is None:
            # Nothing to hand back: run at the start of the transaction's next trip
            # (its next statement or its COMMIT), not a trip of its own.
            driver.defer(self.sql, bound)
            return []
        try:
            returned = await driver.run_rows(self.sql, bound, returning=True)
        except sqlite3.Error as error:
            # As SQLAlchemy raises it: callers catch IntegrityError and the like.
            sql, parameters = deferred_statement(error) or (self.sql, bound)
            raise DBAPIError.instance(sql, parameters, error, sqlite3.Error) from error
        # One value a returned column: as many as the readers.
        pairs_returned = [zip(row, self.readers, strict=True) for row in returned]
        return [
            tuple([value if read is None else read(value) for value, read in pairs])
            for pairs in pairs_returned
        ]


# Compiled forms by (statement, dialect, parameter names); None where the fast
# path cannot reproduce SQLAlchemy's execution. Statements are module-level
# constants, so this stays as small as the set of them.
_COMPILED: dict[tuple[int, str, frozenset[str]], _Compiled | None] = {}


def _compiled(statement: Executable, dialect: Dialect, keys: Any) -> _Compiled | None:
    key = (id(statement), dialect.name, frozenset(keys))
    if key not in _COMPILED:
        _COMPILED[key] = _compile(statement, dialect, sorted(key[2]))
    return _COMPILED[key]


def _compile(statement: Executable, dialect: Dialect, keys: list[str]) -> _Compiled | None:
    if not isinstance(statement, UpdateBase | Select) or dialect.paramstyle != "qmark":
        return None
    compiled = statement.compile(dialect=dialect, column_keys=keys)
    assert isinstance(compiled, SQLCompiler)
    if (
        compiled.insert_prefetch  # Python-side defaults SQLAlchemy computes per row
        or compiled.update_prefetch
        or compiled.positiontup is None
        or any(bind.expanding for bind in compiled.binds.values())
        or any(name not in keys for name in compiled.positiontup)
    ):
        return None
    binders = []
    for position, name in enumerate(compiled.positiontup):
        type_ = compiled.binds[name].type
        binder = type_.dialect_impl(dialect).bind_processor(dialect)
        if binder is not None:
            binders.append((position, binder, _holds_timestamps(type_)))
    readers = None
    if isinstance(statement, Select):
        # A read: its columns' types read its rows, as SQLAlchemy's result would.
        readers = tuple(
            entry.type.dialect_impl(dialect).result_processor(dialect, None)
            for entry in compiled._result_columns
        )
    elif compiled.effective_returning:
        readers = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in compiled.effective_returning
        )
    return _Compiled(compiled.string, tuple(compiled.positiontup), tuple(binders), readers)


def _holds_timestamps(type_: TypeEngine[Any]) -> bool:
    while isinstance(type_, TypeDecorator):  # UtcDateTime: a DateTime underneath
        type_ = type_.impl_instance
    return isinstance(type_, DateTime)

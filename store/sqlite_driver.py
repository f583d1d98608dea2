"""aiosqlite connections whose statements cost one trip to the connection's thread.

aiosqlite runs every sqlite3 call on a thread of its own, and SQLAlchemy's
adapter makes four calls a statement: open a cursor, execute, fetch the rows,
close the cursor. Each is a trip through a queue to that thread and back
through the event loop's self-pipe, with the GIL handed over twice — on a
busy two-core machine 50–100 µs each, and the webhooks' group commit runs
half a dozen statements a batch. ``FewHopsConnection`` hands SQLAlchemy
cursors that do all four in one trip: the statement runs, its rows (all of
them, as SQLAlchemy's buffered cursor would read anyway) and its
description, row count and last row id come back together, and closing
costs nothing.

Results are the same as aiosqlite's own cursor's; only the number of trips
changes. A "server-side" cursor is buffered too (nothing here streams rows).

More trips are saved: ``run_rows`` runs one statement for many rows and
returns what each RETURNING gave (``store/prebuilt.py`` uses it for the hot
paths' inserts); a rollback when no transaction is open — the pool's reset
of every connection handed back after a COMMIT — costs nothing, as in SQLite
it does nothing; and what returns nothing — the BEGIN, and writes whose
caller needs no answer (audit rows, events) — is ``defer``-red: it runs at
the start of the connection's next trip, before that trip's own work, so the
order of statements is unchanged and a transaction that commits does so in
the trip of its last statement or of its COMMIT. A deferred write that fails
raises from that later trip (the error names its statement) and leaves the
transaction able only to roll back (its COMMIT is refused: writes deferred
after the failing one never ran); a rollback drops what was deferred and
never ran.

A quick transaction (``Database.transaction(quick=True)``, or a quick writer's:
the webhooks' group commit) makes no trips at all while the write lock is
free: ``take_write_lock`` runs its BEGIN IMMEDIATE on the event loop's thread
without waiting (a busy timeout of 0 for that one statement), and from then
on its statements, COMMIT or ROLLBACK run there too — holding the lock,
nothing in it can wait on another writer, and a trip (a queue, a thread
woken, the GIL handed over and back, the loop woken through its self-pipe)
costs more than a short indexed statement. When another connection holds
the lock, the BEGIN makes the trip and waits on the busy handler there, as
every other transaction does. The connection is then used from two threads,
never at once: nothing runs on the calling thread while a trip of this
connection is unfinished.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import aiosqlite

# description, rows, rowcount, lastrowid
_Outcome = tuple[Any, list[Any], int, int | None]
# A statement to run at the start of the next trip: parameters for each row, or
# None to run it once without any.
_Deferred = tuple[str, Sequence[Sequence[Any]] | None]
# On an error raised by a deferred statement: that statement and its parameters
# (``deferred_statement``), for errors that name what failed.
_STATEMENT = "guestcomms_deferred_statement"


def _after_deferred(
    connection: sqlite3.Connection, deferred: Sequence[_Deferred], then: Callable[[], Any]
) -> Any:
    """On the connection's thread: what was deferred, in order, then this trip's own work."""
    for sql, rows in deferred:
        if rows is not None and not connection.in_transaction:
            # As ``_run_rows``: rows are never written outside the caller's transaction.
            raise sqlite3.ProgrammingError("deferred writes need an open transaction")
        try:
            if rows is None:
                connection.execute(sql)
            else:
                connection.executemany(sql, rows)
        except sqlite3.Error as error:
            setattr(error, _STATEMENT, (sql, rows))
            error.add_note(f"raised by a deferred statement: {sql}")
            raise
    return then()


def deferred_statement(error: BaseException) -> tuple[str, Any] | None:
    """The deferred statement (SQL, parameters) that raised ``error``; None if another did."""
    statement: tuple[str, Any] | None = getattr(error, _STATEMENT, None)
    return statement


def _run(connection: sqlite3.Connection, sql: str, parameters: Any, *, many: bool) -> _Outcome:
    """On the connection's thread: the whole life of one cursor."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        # rowcount after the fetch: for INSERT … RETURNING sqlite3 counts rows as they are read.
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_rows(
    connection: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]], *, returning: bool
) -> list[Any]:
    """On the connection's thread: ``sql`` for each of ``rows``, inside the open transaction;
    the rows each RETURNING gave, in order."""
    if not connection.in_transaction:
        # In autocommit each row would be final at once, whatever the caller's
        # transaction then does: never. (SQLAlchemy begins before its first statement.)
        raise sqlite3.ProgrammingError("run_rows needs an open transaction")
    if not returning:
        connection.executemany(sql, rows)
        return []
    cursor = connection.cursor()
    try:
        returned: list[Any] = []
        for row in rows:
            cursor.execute(sql, row)
            returned.extend(cursor.fetchall())
        return returned
    finally:
        cursor.close()


class OneTripCursor:
    """The async cursor SQLAlchemy's aiosqlite adapter drives, one thread trip a statement."""

    def __init__(self, connection: FewHopsConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        # A deque: a streamed read takes rows one by one from the front.
        self._rows: deque[Any] = deque()

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> OneTripCursor:
        self._take(await self._connection.run_on_thread(_run, sql, parameters, many=False))
        return self

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> OneTripCursor:
        self._take(await self._connection.run_on_thread(_run, sql, parameters, many=True))
        return self

    def _take(self, outcome: _Outcome) -> None:
        self.description, rows, self.rowcount, self.lastrowid = outcome
        self._rows = deque(rows)

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        taken = list(self._rows)
        self._rows.clear()
        return taken

    async def close(self) -> None:
        self._rows.clear()


class FewHopsConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make one trip to its thread a statement."""

    # Whether a transaction is known to be closed (after COMMIT or ROLLBACK, until
    # the next trip of any kind, which may open one; what is deferred has not run).
    _closed_transaction = False
    _deferred: list[_Deferred] | None = None
    # Whether a deferred write failed in the open transaction: those deferred after
    # it never ran, so the transaction may roll back but never commit.
    _broken_transaction = False
    # Whether a quick transaction holds the write lock (``take_write_lock``): its
    # calls run on the calling thread until its COMMIT or ROLLBACK.
    _write_lock_here = False
    # Trips handed to the connection's thread, and trips it finished (each counter
    # written by one thread only).
    _trips_sent = 0
    _trips_done = 0

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    def defer(self, sql: str, rows: Sequence[Sequence[Any]] | None = None) -> None:
        """Run ``sql`` — for each of ``rows``, or once without parameters — at the start
        of this connection's next trip (see the module's docstring)."""
        if self._deferred is None:
            self._deferred = []
        self._deferred.append((sql, rows))

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # Every call aiosqlite and the cursors make (statements, COMMIT, ROLLBACK).
        self._closed_transaction = False
        function = partial(fn, *args, **kwargs)
        deferred = self._deferred
        if deferred:
            self._deferred = None
            function = partial(_after_deferred, self._conn, deferred, function)
        try:
            if self._runs_here():
                return function()
            self._trips_sent += 1
            return await super()._execute(self._counted, function)  # type: ignore[no-untyped-call]
        except sqlite3.Error as error:
            if deferred and deferred_statement(error) is not None:
                self._broken_transaction = True
            raise

    def _counted(self, function: Callable[[], Any]) -> Any:
        """On the connection's thread: ``function``, then that this trip is over."""
        try:
            return function()
        finally:
            self._trips_done += 1

    def _runs_here(self) -> bool:
        connection = self._connection
        return (
            self._write_lock_here
            # Nothing of ours is on the connection's thread (a trip whose caller was
            # cancelled may still be running there): one thread at a time uses it.
            and self._trips_done == self._trips_sent
            # Still holding the lock: SQLite rolls back by itself on some errors
            # (disk full, I/O), and what follows must not wait here for a lock.
            and connection is not None
            and connection.in_transaction
        )

    async def take_write_lock(self, begin: str, busy_timeout_ms: int) -> None:
        """Begin a quick transaction with ``begin`` (a BEGIN IMMEDIATE) at once, and run
        its statements, COMMIT or ROLLBACK on the calling thread until it ends.

        Once the write lock is held nothing in the transaction waits on another
        writer, so its statements cost the event loop what they cost SQLite, without
        a trip each. Taking the lock is tried here without waiting; when another
        connection holds it, the BEGIN waits on the busy handler on the
        connection's thread, as any other, and the loop goes on meanwhile.
        """
        if self._deferred != [(begin, None)]:
            raise sqlite3.ProgrammingError("take_write_lock opens a transaction, first thing")
        self._deferred = None  # the BEGIN SQLAlchemy's begin event deferred: run here
        self._closed_transaction = False
        if self._trips_done == self._trips_sent:
            connection = self._conn
            connection.execute("PRAGMA busy_timeout=0")
            try:
                connection.execute(begin)
            except sqlite3.OperationalError:
                if connection.in_transaction:
                    raise
            finally:
                connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            if connection.in_transaction:
                self._write_lock_here = True
                return
        await self._execute(self._conn.execute, begin)
        self._write_lock_here = True

    async def commit(self) -> None:
        if self._broken_transaction:
            # A caller that caught the deferred write's error and carried on would
            # otherwise commit without the writes deferred after it.
            raise sqlite3.OperationalError(
                "a deferred write failed in this transaction: it can only be rolled back"
            )
        try:
            await super().commit()
        finally:
            self._write_lock_here = False
        self._closed_transaction = True

    async def close(self) -> None:
        self._deferred = None  # an uncommitted transaction ends with the connection
        self._broken_transaction = False
        self._write_lock_here = False
        await super().close()

    async def rollback(self) -> None:
        # What was deferred belongs to the transaction rolled back: it never runs.
        self._deferred = None
        self._broken_transaction = False
        if self._closed_transaction:  # nothing reached SQLite since: no trip
            self._write_lock_here = False
            return
        try:
            await super().rollback()
        finally:
            self._write_lock_here = False
        self._closed_transaction = True

    async def run_rows(
        self, sql: str, rows: Sequence[Sequence[Any]], *, returning: bool
    ) -> list[Any]:
        """``sql`` for each of ``rows`` in one trip (see ``_run_rows``)."""
        result: list[Any] = await self._execute(
            _run_rows, self._conn, sql, rows, returning=returning
        )
        return result

    async def run_on_thread(
        self, function: Callable[..., _Outcome], sql: str, parameters: Any, *, many: bool
    ) -> _Outcome:
        # ``_conn`` raises when the connection is closed, as aiosqlite's own calls do.
        result: _Outcome = await self._execute(function, self._conn, sql, parameters, many=many)
        return result


def connect(database: str, **kwargs: Any) -> FewHopsConnection:
    """What ``aiosqlite.connect`` does, with the connection class above."""

    # A quick transaction's calls run on the event loop's thread, never while a trip
    # runs on the connection's own (``_runs_here``).
    kwargs["check_same_thread"] = False

    def connector() -> sqlite3.Connection:
        opened: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return opened

    connection = FewHopsConnection(connector, iter_chunk_size=64)
    # As SQLAlchemy does for aiosqlite's own: a forgotten connection must not
    # keep the process alive.
    connection._thread.daemon = True
    return connection

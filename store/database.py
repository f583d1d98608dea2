"""The engine and its sessions: one ``Database`` per process, shared by all layers."""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from store import sqlite_driver
from store.keyring import Keyring, KeyringError
from store.models.sealed import use_keys
from store.settings import StoreSettings
from store.wal_checkpointer import BACKSTOP_PAGES, WalCheckpointer

_DATABASE = "guestcomms.database"
# How long a SQLite writer waits for another's lock before "database is locked".
BUSY_TIMEOUT_MS = 10_000
# Write transactions take the lock up front (see ``_configure_sqlite``).
BEGIN_WRITE = "BEGIN IMMEDIATE"


class Database:
    """Owns the async engine; hands out sessions wrapped in one transaction each."""

    def __init__(self, settings: StoreSettings) -> None:
        self._settings = settings
        self._keyring: Keyring | None = None
        self.url = make_url(settings.database_url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            _ensure_parent_directory(self.url.database)
        # No pre-ping: it doubles the round trips of every short transaction
        # (the hot path records results in many). A connection the server
        # dropped fails once and is replaced; recycling avoids most of those.
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            echo=settings.database_echo,
            pool_recycle=1800,
            pool_size=settings.database_pool_size,
            json_serializer=_json_text,
        )
        # Checkpoints of a database file's log run off the event loop; an
        # in-memory database has no log.
        self._checkpointer: WalCheckpointer | None = None
        if self.is_sqlite:
            path = _file_path(self.url.database)
            if path is not None:
                self._checkpointer = WalCheckpointer(path)
            _configure_sqlite(self.engine, checkpoint_off_loop=self._checkpointer is not None)
        # Guests' personal data is sealed and indexed by the column types, with
        # this database's keys (store/models/sealed.py).
        use_keys(self.engine, lambda: self.keyring)
        # Every session knows the Database that opened it, so code holding only a
        # session (the suppression ledger, guest lookups) reaches the keyring.
        info = {_DATABASE: self}
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, info=info)
        # Reads need no write lock: on SQLite they begin DEFERRED and see a
        # WAL snapshot while a long import writes.
        self._read_sessions = async_sessionmaker(
            self.engine.execution_options(sqlite_begin="DEFERRED"),
            expire_on_commit=False,
            info=info,
        )
        self._glance_sessions = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            info=info,
        )
        # SQLite has one writer at a time. Pooled connections waiting on its
        # busy handler retry at random, so under load some waited past the
        # busy timeout and failed ("database is locked") while others went
        # ahead; queueing this process's writers here first serves them in
        # order. (Other processes still meet at the busy timeout.)
        self._write_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        # Quick writers keep a connection while they linger: ``dispose`` takes it back.
        self._quick_writers: weakref.WeakSet[QuickWriter] = weakref.WeakSet()

    @asynccontextmanager
    async def transaction(self, *, quick: bool = False) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back if it raises.

        ``quick``: a short write of a few indexed statements on a hot path (the
        webhooks' group commit runs its batches so, through ``quick_writer``). On
        SQLite its statements and COMMIT then run on the event loop's thread once
        it holds the write lock, instead of a trip each to the connection's
        thread: those trips (a queue, a thread woken, the GIL handed over and
        back, the loop woken) cost more than the statements. Taking the lock
        never waits on the loop (``FewHopsConnection.take_write_lock``). A quick
        transaction alone is a quick writer's one transaction. The WAL's
        checkpoints run on a thread of their own (``store/wal_checkpointer.py``):
        a COMMIT copies pages into the database file only every
        ``BACKSTOP_PAGES`` pages of log, and then finds nearly all of them
        already copied.
        """
        if not self.is_sqlite:
            async with self.sessions() as session, session.begin():
                yield session
            return
        if quick:
            async with self.quick_writer() as writer, writer.transaction() as session:
                yield session
            return
        async with self._write_turn(), self.sessions() as session, session.begin():
            yield session
        self._wrote()

    @asynccontextmanager
    async def quick_writer(self) -> AsyncIterator[QuickWriter]:
        """For one task that commits quick transactions back to back (the webhooks'
        group commit): ``writer.transaction()`` does what ``transaction(quick=True)``
        does, and on SQLite it keeps one connection from one transaction to the next.

        A session of its own a transaction — made, its connection checked out of
        the pool, begun, committed, handed back, closed — costs about 200 µs of
        the event loop, most of a batch's fixed cost; on a connection kept, only
        the transaction begins and commits (the session joins it), about 90 µs.
        The connection goes back to the pool when the writer is done, and after a
        transaction that failed (it may be unusable: the next one takes another).
        """
        writer = QuickWriter(self)
        self._quick_writers.add(writer)
        try:
            yield writer
        finally:
            await writer.close()

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        """This process's writers one after another (SQLite: see ``__init__``)."""
        async with self._write_turns.setdefault(asyncio.get_running_loop(), asyncio.Lock()):
            yield

    def _wrote(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.wrote()

    @asynccontextmanager
    async def one_statement(self) -> AsyncIterator[AsyncSession]:
        """For a single write that is atomic by itself: PostgreSQL runs it in
        autocommit (one round trip instead of BEGIN, statement, COMMIT);
        SQLite, whose writers must queue, in a ``transaction()``."""
        if self.is_sqlite:
            async with self.transaction() as session:
                yield session
            return
        async with self._glance_sessions() as session:
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work, which on SQLite never waits for a writer."""
        async with self._read_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def glance(self) -> AsyncIterator[AsyncSession]:
        """One quick read outside any transaction (PostgreSQL: autocommit, no BEGIN and
        COMMIT round trips). For hot-path checks such as "has this guest just opted out"."""
        if self.is_sqlite:
            async with self.reading() as session:
                yield session
            return
        async with self._glance_sessions() as session:
            yield session

    @property
    def keyring(self) -> Keyring:
        """The keys for personal data at rest (store/keyring.py), from the settings.

        Asked for only where personal data is written, read or erased, so a
        process that never touches it (a health probe) needs no keys.
        """
        if self._keyring is None:
            self._keyring = Keyring.from_settings(self._settings)
        return self._keyring

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        for writer in list(self._quick_writers):
            await writer.close(unless_writing=True)
        if self._checkpointer is not None:
            # Waits for a checkpoint under way: off the loop, as the checkpoints are.
            await asyncio.to_thread(self._checkpointer.close)
        await self.engine.dispose()


class QuickWriter:
    """Quick write transactions one after another (``Database.quick_writer``)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._kept: tuple[AsyncConnection, sqlite_driver.FewHopsConnection] | None = None
        self._writing = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """``Database.transaction(quick=True)``, on the connection this writer keeps."""
        database = self._database
        if not database.is_sqlite:
            async with database.transaction(quick=True) as session:
                yield session
            return
        async with database._write_turn():
            connection, driver = self._kept or await self._keep()
            # The session joins the connection's transaction: it neither commits nor
            # rolls back (the block below does), and closing it leaves the connection.
            session = database.sessions(bind=connection)
            self._writing = True
            try:
                async with connection.begin():
                    await driver.take_write_lock(BEGIN_WRITE, BUSY_TIMEOUT_MS)
                    yield session
                    if session.new or session.dirty or session.deleted:
                        # As a session's own commit would: nothing added is left out.
                        await session.flush()
            except BaseException:
                self._writing = False
                await session.close()
                await self.close()
                raise
            self._writing = False
            await session.close()
        database._wrote()

    async def _keep(self) -> tuple[AsyncConnection, sqlite_driver.FewHopsConnection]:
        connection = await self._database.engine.connect()
        driver = (await connection.get_raw_connection()).driver_connection
        if not isinstance(driver, sqlite_driver.FewHopsConnection):
            # Every SQLite connection is made by it (``_configure_sqlite``).
            await connection.close()
            raise RuntimeError("a quick writer needs guestcomms' SQLite driver")
        self._kept = (connection, driver)
        return self._kept

    async def close(self, *, unless_writing: bool = False) -> None:
        """Hand the connection back to the pool (the next transaction takes one again);
        ``unless_writing``: only between transactions (``Database.dispose``)."""
        if unless_writing and self._writing:
            return
        kept, self._kept = self._kept, None
        if kept is not None:
            await kept[0].close()


def keyring_of(session: AsyncSession) -> Keyring:
    """The keyring of the Database whose session this is."""
    database = session.info.get(_DATABASE)
    if not isinstance(database, Database):
        raise KeyringError("this session was not opened by a Database, so it has no keys")
    return database.keyring


def _file_path(database: str | None) -> str | None:
    """The file of a SQLite URL's database; None for an in-memory one or a URI."""
    if database and database != ":memory:" and not database.startswith("file:"):
        return database
    return None


def _ensure_parent_directory(database: str | None) -> None:
    path = _file_path(database)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine, *, checkpoint_off_loop: bool) -> None:
    """WAL, foreign keys, a busy timeout, write transactions that lock up front,
    and a Unicode-aware ``lower()``; with ``checkpoint_off_loop`` (a
    ``WalCheckpointer`` checkpoints), the commits' own autocheckpoint only as a
    backstop.

    pysqlite opens transactions lazily and only before DML, so a transaction
    that reads and then writes can fail with SQLITE_BUSY when another writer
    got in between. Taking the write lock at BEGIN (IMMEDIATE) makes writers
    queue on the busy timeout instead, which is what guarded updates need;
    ``Database.reading()`` asks for DEFERRED. SQLite's own ``lower()`` folds
    ASCII only, so "VÉGÉTARIEN" would not match a segment on SQLite while it
    does on PostgreSQL; Python's ``str.lower`` replaces it.
    """

    @event.listens_for(engine.sync_engine, "do_connect")
    def _few_hops(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        # One trip to aiosqlite's thread a statement instead of four (sqlite_driver).
        params["async_creator_fn"] = sqlite_driver.connect

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if checkpoint_off_loop:
            cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cursor.close()
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        begin = "BEGIN DEFERRED" if mode == "DEFERRED" else BEGIN_WRITE
        driver = connection.connection.driver_connection
        if isinstance(driver, sqlite_driver.FewHopsConnection):
            # Run with the transaction's first statement, in its trip to the thread.
            driver.defer(begin)
        else:
            connection.exec_driver_sql(begin)


def _json_text(value: Any) -> str:
    """JSON columns' text. Every guest's reply writes two values (its audit row, the
    planners' note), and ``json.dumps`` builds an encoder per call: 2–3 µs a value
    against orjson's 0.2–0.3. Keys that are not strings become strings, as
    ``json.dumps`` makes them; reading stays ``json.loads``, which reads both.
    What orjson refuses and ``json.dumps`` writes — a lone surrogate (``json.loads``
    gives those from a provider's JSON), an integer beyond 64 bits — is written
    by ``json.dumps``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value

"""Shared fixtures: a migrated database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.engine import URL

from store.database import Database
from store.migrate import migrate
from store.models import Base
from tests import services
from tests.data_keys import store_settings
from tests.dispatch_harness import Backend, midday_clock
from tests.slack_harness import SlackBot, running_bot


@pytest.fixture(autouse=True)
def _logs_to_the_current_streams() -> Iterator[None]:
    """A CLI run in a test configures the logs to write to that test's captured
    stderr, which pytest closes afterwards: later tests log as by default again."""
    yield
    structlog.reset_defaults()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def open_database(url: str | URL) -> Database:
    rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    return Database(store_settings(rendered))


async def _migrated(url: str | URL) -> None:
    database = open_database(url)
    try:
        await migrate(database)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy, which is far faster than migrating."""
    path = tmp_path_factory.mktemp("template") / "guestcomms.db"
    services.run_isolated(lambda: _migrated(sqlite_url(path)))
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[URL]:
    admin_url = services.required_env("TEST_DATABASE_URL", "PostgreSQL")
    url = services.create_postgres_database(admin_url)
    try:
        services.run_isolated(lambda: _migrated(url))
        yield url
    finally:
        services.drop_postgres_database(admin_url, url)


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = services.required_env("REDIS_URL", "Redis")
    services.check_redis(url)
    return url


@pytest.fixture
def sqlite_database_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "guestcomms.db"
    shutil.copy(sqlite_template, path)
    return sqlite_url(path)


async def _truncate_all(database: Database) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with database.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def database(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """A migrated, empty database: a SQLite file, or the run's PostgreSQL database."""
    if request.param == "sqlite":
        db = open_database(request.getfixturevalue("sqlite_database_url"))
    else:
        db = open_database(request.getfixturevalue("postgres_url"))
        await _truncate_all(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def sqlite_database(sqlite_database_url: str) -> AsyncIterator[Database]:
    db = open_database(sqlite_database_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def bot(
    sqlite_database: Database, sqlite_database_url: str, tmp_path: Path
) -> AsyncIterator[SlackBot]:
    """The Slack tests' running bot: SQLite, the clock at midday. A module that needs
    another back end or clock defines its own ``bot``, which takes precedence."""
    async with running_bot(sqlite_database, sqlite_database_url, tmp_path, midday_clock()) as b:
        yield b


@pytest.fixture
async def postgres_database(postgres_url: URL) -> AsyncIterator[Database]:
    """The run's PostgreSQL database, emptied, for tests that need several processes."""
    db = open_database(postgres_url)
    await _truncate_all(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def backend(database: Database, request: pytest.FixtureRequest) -> Backend:
    """SQLite with the in-process broker, or PostgreSQL with Redis."""
    url = database.url.render_as_string(hide_password=False)
    on_postgres = database.url.get_backend_name() == "postgresql"
    redis_url = request.getfixturevalue("redis_url") if on_postgres else None
    return Backend(database, url, redis_url)

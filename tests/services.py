"""Where the test suite finds PostgreSQL and Redis, and what it does when they are missing.

Outside CI an unset TEST_DATABASE_URL / REDIS_URL skips those tests; under
CI=true it fails the run, as does a configured service that does not answer.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import URL, make_url

IN_CI = os.environ.get("CI", "").lower() == "true"

T = TypeVar("T")


def run_isolated(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on its own loop in a helper thread.

    Session fixtures may be first requested from inside an async test, whose
    loop is already running; a separate thread keeps the two loops apart.
    """
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(lambda: asyncio.run(work())).result()


def required_env(name: str, purpose: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if IN_CI:
        pytest.fail(f"CI=true but {name} is not set; {purpose} cannot be tested")
    pytest.skip(f"{name} is not set: {purpose} skipped")


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def create_postgres_database(admin_url: str) -> URL:
    """A fresh database for this test run, next to the one TEST_DATABASE_URL names."""
    base = make_url(admin_url)
    name = f"guestcomms_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(base), timeout=5)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    try:
        run_isolated(create)
    except (OSError, asyncpg.PostgresError) as error:
        pytest.fail(f"PostgreSQL at {base.render_as_string()} is not usable: {error}")
    return base.set(database=name)


def drop_postgres_database(admin_url: str, url: URL) -> None:
    async def drop() -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(make_url(admin_url)), timeout=5)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        finally:
            await connection.close()

    run_isolated(drop)


def check_redis(url: str) -> None:
    async def ping() -> None:
        client = Redis.from_url(url, socket_connect_timeout=2)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        run_isolated(ping)
    except (OSError, RedisError) as error:
        pytest.fail(f"Redis at {url} does not answer: {error}")

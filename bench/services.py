"""The real services a benchmark runs against: its own Redis, a fresh PostgreSQL database.

A benchmark never touches a Redis or a database that someone else uses:
``make bench`` starts one private ``redis-server`` for all scripts (REDIS_URL)
and each script makes and drops its own PostgreSQL databases next to the one
TEST_DATABASE_URL names. Run alone, a script starts its own Redis when
REDIS_URL is unset.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import redis
from sqlalchemy.engine import URL, make_url

from bench.processes import BenchFailed, free_ports

# Local PostgreSQL with trust authentication, as CI and the developers' machines have it.
DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def admin_url() -> URL:
    return make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL)


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def postgres_database(label: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one measurement (its SQLAlchemy URL),
    dropped afterwards even if connections are still open."""
    base = admin_url()
    name = f"guestcomms_bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = await asyncpg.connect(_asyncpg_dsn(base), timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        raise BenchFailed(
            f"PostgreSQL at {base.render_as_string()} is not usable: {error}"
        ) from None
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def postgres_version() -> str:
    try:
        admin = await asyncpg.connect(_asyncpg_dsn(admin_url()), timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        return f"unreachable ({error})"
    try:
        return str(await admin.fetchval("SHOW server_version"))
    finally:
        await admin.close()


@contextlib.contextmanager
def private_redis(work_dir: Path) -> Iterator[str]:
    """A redis-server of our own on a free port of 127.0.0.1, without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchFailed("redis-server is not installed (apt-get install redis-server)")
    (port,) = free_ports(1)
    log = work_dir / f"redis-{port}.log"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(work_dir), "--logfile", str(log)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)  # noqa: S603
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        for _ in range(100):
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    break
            if process.poll() is not None:
                raise BenchFailed(f"redis-server exited: {log.read_text()[-500:]}")
            time.sleep(0.05)
        else:
            raise BenchFailed(f"redis-server on port {port} never answered")
        client.close()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def redis_for_bench(work_dir: Path) -> Iterator[str]:
    """REDIS_URL when it is set (``make bench``'s private server), else our own."""
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    with private_redis(work_dir) as url:
        yield url


def redis_version(url: str) -> str:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        info = client.info("server")
        client.close()
    except redis.RedisError as error:
        return f"unreachable ({error})"
    return str(info.get("redis_version", "?"))

"""The services a fault benchmark runs against: its own Redis, a fresh PostgreSQL database,
and the environment guestcomms' processes read.

Redis is a server of the benchmark's own on a free port, never the shared
one, so it can be killed and restarted mid-run without touching anyone
else's keys; it keeps nothing on disk (``--save ''``, no AOF), so a restart
loses everything, as a crashed cache node would. Every address is on
127.0.0.1: a benchmark sends no traffic anywhere else.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Protocol

import asyncpg
import redis
from sqlalchemy.engine import URL, make_url

from bench.children import Children
from tests.data_keys import DATA_KEYS_ENV
from tests.fakes.smtp import free_port
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

DEFAULT_ADMIN_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
SENDER = "+12015550000"


class NotLocal(Exception):
    """A benchmark was pointed at a service that is not on this machine."""


def loopback_only(url: URL) -> URL:
    if (url.host or "127.0.0.1") not in LOOPBACK:
        raise NotLocal(f"benchmarks run against 127.0.0.1 only, not {url.host}")
    return url


@dataclass
class OwnRedis:
    """A redis-server of this benchmark's own, on a free port of 127.0.0.1."""

    children: Children
    port: int = field(default_factory=free_port)
    process: Popen[bytes] | None = None
    _directory: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="gc-bench-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = (
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._directory,
        )
        self.process = self.children.start("redis", command, os.environ)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            for _ in range(100):  # ten seconds at most
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None:
                        raise RuntimeError("redis-server exited; see its log") from None
                    time.sleep(0.1)
            raise RuntimeError(f"redis-server on port {self.port} never answered")
        finally:
            client.close()

    def crash(self) -> None:
        """SIGKILL: everything it held (queues, delayed messages, pacer, breakers) is lost."""
        if self.process is not None:
            self.children.kill(self.process)
            self.process = None

    def close(self) -> None:
        self.crash()
        shutil.rmtree(self._directory, ignore_errors=True)

    def restart(self, down_seconds: float) -> None:
        self.crash()
        time.sleep(down_seconds)
        self.start()


@asynccontextmanager
async def fresh_postgres(purpose: str) -> AsyncIterator[str]:
    """A new database on the local PostgreSQL (beside the one TEST_DATABASE_URL names),
    dropped afterwards whatever happens; yields its SQLAlchemy URL."""
    base = admin_url()
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"guestcomms_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


class ProviderFakes(Protocol):
    """Where the Twilio and SMTP fakes answer (``tests.dispatch_harness.Fakes`` in this
    process, ``bench.fakes.Fakes`` in a process of their own)."""

    @property
    def twilio_url(self) -> str: ...

    @property
    def smtp_port(self) -> int: ...


def clean_environment() -> dict[str, str]:
    """This process's environment without what would reach real services: nothing of a
    developer's own set-up (Slack, Sentry, Twilio, SMTP, Resend, Redis) may leak in."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "SENTRY_", "TWILIO_", "SMTP_", "RESEND_", "REDIS_URL"))
    }


def guestcomms_env(
    database_url: str,
    redis_url: str,
    namespace: str,
    fakes: ProviderFakes,
    outbox: Path,
    **overrides: str,
) -> dict[str, str]:
    """What workers, the scheduler and the web server of a benchmark read: the fakes as
    providers, tier limits off (they are tested elsewhere; here they would only pause
    the campaign), and a small connection pool, since PostgreSQL is shared."""
    env = clean_environment()
    env.update(
        {
            "DATABASE_URL": database_url,
            "DATABASE_POOL_SIZE": "6",
            "REDIS_URL": redis_url,
            "BROKER_NAMESPACE": namespace,
            "PUBLIC_BASE_URL": "https://comms.example.com",
            "UNSUBSCRIBE_SECRET": "bench-unsubscribe-secret",
            "JWT_SECRET": "bench-jwt-secret-of-at-least-32-bytes",
            "ENFORCE_HOURLY_AND_DAILY_LIMITS": "false",
            "EMAIL_PROVIDER": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(fakes.smtp_port),
            "SMTP_STARTTLS": "false",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": SENDER,
            "TWILIO_API_URL": fakes.twilio_url,
            "OUTBOX_DIR": str(outbox),
            # Every process, and the benchmark itself, hashes and encrypts guests' data
            # with the same keys (on PostgreSQL no process starts without them).
            **DATA_KEYS_ENV,
        }
    )
    env.update(overrides)
    return env


def admin_url() -> URL:
    """Where benchmarks make their databases: beside TEST_DATABASE_URL's, or the local one."""
    return loopback_only(make_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_ADMIN_DATABASE)))


async def postgres_version() -> str:
    dsn = admin_url().set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        return f"unreachable ({error})"
    try:
        return str(await admin.fetchval("SHOW server_version"))
    finally:
        await admin.close()


def redis_version(url: str) -> str:
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        return str(client.info("server").get("redis_version", "?"))
    except redis.RedisError as error:
        return f"unreachable ({error})"
    finally:
        client.close()


@contextmanager
def redis_for_bench(children: Children) -> Iterator[str]:
    """REDIS_URL when it is set (``make bench`` starts one Redis for every script),
    else a Redis of this benchmark's own for as long as the block lasts."""
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    own = OwnRedis(children)
    try:
        own.start()
        yield own.url
    finally:
        own.close()

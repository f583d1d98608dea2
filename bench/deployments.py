"""guestcomms as an operator runs it, pointed at the benchmark's fakes.

Two set-ups of DESIGN.md's operator row:

* ``laptop``: ``guestcomms dev`` on SQLite — web server, workers (threads)
  and scheduler in one process, the in-process broker;
* ``servers``: ``guestcomms serve`` plus Dramatiq worker processes (the
  Procfile's ``worker`` command) on PostgreSQL, with Redis as broker and for
  the pacer, limits and breakers.

Both read only the environment, as in production; the benchmark's settings
are in ``guestcomms_env``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.fakes import Fakes
from bench.processes import (
    PROJECT,
    BenchFailed,
    children,
    free_ports,
    rss_mb,
    serving,
    start,
    stop_group,
    tail,
)
from tests.fakes.slack import BOT_TOKEN
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

SLACK_SIGNING_SECRET = "bench-slack-signing-secret"  # noqa: S105 (the fakes' only)
SENDER = "+12015550000"  # TWILIO_FROM_NUMBER: the one sender the pacer paces
GUESTCOMMS = str(Path(sys.executable).with_name("guestcomms"))
WORKER_READY = b"Worker process is ready for action."


def guestcomms_env(
    database_url: str,
    redis_url: str | None,
    fakes: Fakes,
    namespace: str,
    *,
    public_base_url: str = "https://comms.example.com",
    sms_per_second: float = 1_000_000,
) -> dict[str, str]:
    """Real providers' clients against the fakes; tier limits off (they would cap a
    10,000-recipient campaign per hour); pacing as asked (by default none)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BROKER_NAMESPACE": namespace,
        "PUBLIC_BASE_URL": public_base_url,
        "UNSUBSCRIBE_SECRET": "bench-unsubscribe-secret",
        "JWT_SECRET": "bench-jwt-secret-of-at-least-32-bytes",
        "SMS_MESSAGES_PER_SECOND": f"{sms_per_second:g}",
        "ENFORCE_HOURLY_AND_DAILY_LIMITS": "false",
        "EMAIL_PROVIDER": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(fakes.smtp_port),
        "SMTP_STARTTLS": "false",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": SENDER,
        "TWILIO_API_URL": fakes.twilio_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "SLACK_API_URL": fakes.slack_api_url,
    }
    for unwanted in ("REDIS_URL", "SENTRY_DSN", "TWILIO_MESSAGING_SERVICE_SID"):
        env.pop(unwanted, None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


@dataclass
class Deployment:
    """The running processes: where the web server answers, and whose memory is the workers'."""

    name: str
    description: str
    web_url: str
    worker_pids: list[int] = field(default_factory=list)

    def worker_rss_mb(self) -> dict[int, float]:
        return {pid: rss_mb(pid) for pid in self.worker_pids}


@contextlib.asynccontextmanager
async def laptop(env: Mapping[str, str], work: Path) -> AsyncIterator[Deployment]:
    """``guestcomms dev``: everything in one process; its memory is the worker's."""
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    command = (GUESTCOMMS, "dev", "--port", str(port))
    async with serving(command, env, work, work / "dev.log", f"{url}/api/health") as process:
        yield Deployment(
            "laptop",
            "`guestcomms dev` on SQLite: web, 4 worker threads and scheduler in one process",
            url,
            [process.pid],
        )


@contextlib.asynccontextmanager
async def servers(
    env: Mapping[str, str], work: Path, workers: int = 2, threads: int = 8
) -> AsyncIterator[Deployment]:
    """The Procfile: ``guestcomms serve``, ``workers`` Dramatiq processes (one worker
    process each) and ``guestcomms scheduler`` (wakes retries, settles expired leases)."""
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    serve = (GUESTCOMMS, "serve", "--port", str(port))
    worker = (sys.executable, "-m", "dramatiq", "bot.worker", "--processes", "1")
    logs = [work / f"worker-{n}.log" for n in range(workers)]
    supervisors: list[asyncio.subprocess.Process] = []
    try:
        for log in logs:
            supervisors.append(await start((*worker, "--threads", str(threads)), env, PROJECT, log))
        scheduler = (GUESTCOMMS, "scheduler")
        supervisors.append(await start(scheduler, env, work, work / "scheduler.log"))
        async with serving(serve, env, work, work / "serve.log", f"{url}/api/health"):
            await _workers_ready(supervisors[:workers], logs)
            yield Deployment(
                "servers",
                f"`guestcomms serve` + {workers} Dramatiq worker processes × {threads} threads "
                "+ `guestcomms scheduler`, on PostgreSQL and Redis",
                url,
                [pid for s in supervisors[:workers] for pid in children(s.pid)],
            )
    finally:
        await asyncio.gather(*(stop_group(s) for s in supervisors))


async def _workers_ready(
    supervisors: list[asyncio.subprocess.Process], logs: list[Path], within: float = 90
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not all(WORKER_READY in log.read_bytes() for log in logs):
        for supervisor, log in zip(supervisors, logs, strict=True):
            if supervisor.returncode is not None:
                raise BenchFailed(f"a worker exited ({supervisor.returncode}):\n{tail(log)}")
        if asyncio.get_running_loop().time() > deadline:
            raise BenchFailed(f"workers not ready within {within:g} s:\n{tail(logs[0])}")
        await asyncio.sleep(0.1)

"""guestcomms as an operator runs it, pointed at the benchmark's fakes.

Two set-ups of DESIGN.md's operator row:

* ``laptop``: ``guestcomms dev`` on SQLite — web server, workers (threads)
  and scheduler in one process, the in-process broker;
* ``servers``: ``guestcomms serve`` plus Dramatiq worker processes (the
  Procfile's ``worker`` command) on PostgreSQL, with Redis as broker and for
  the pacer, limits and breakers.

Both read only the environment, as in production; the benchmark's settings
are in ``operator_env``.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.backends import guestcomms_env
from bench.children import Children, guestcomms, python
from bench.fakes import Fakes
from bench.processes import (
    BenchFailed,
    child_pids,
    cpu_seconds,
    free_ports,
    rss_mb,
    serving,
    tail,
)
from tests.fakes.slack import BOT_TOKEN

SLACK_SIGNING_SECRET = "bench-slack-signing-secret"  # noqa: S105 (the fakes' only)
WORKER_READY = b"Worker process is ready for action."


def operator_env(
    database_url: str,
    redis_url: str | None,
    fakes: Fakes,
    namespace: str,
    work: Path,
    *,
    public_base_url: str = "https://comms.example.com",
    sms_per_second: float = 1_000_000,
) -> dict[str, str]:
    """The fault benchmarks' environment (``bench.backends.guestcomms_env``: the fakes as
    providers, tier limits off, nothing of a developer's own set-up), plus Slack and
    pacing as asked (by default none); without ``redis_url``, the laptop set-up."""
    env = guestcomms_env(
        database_url,
        redis_url or "",
        namespace,
        fakes,
        work / "outbox",
        PUBLIC_BASE_URL=public_base_url,
        SMS_MESSAGES_PER_SECOND=f"{sms_per_second:g}",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SIGNING_SECRET,
        SLACK_API_URL=fakes.slack_api_url,
    )
    # Throughput is measured with the production pool (20 connections a process),
    # not the fault benchmarks' small one.
    env.pop("DATABASE_POOL_SIZE")
    if not redis_url:
        del env["REDIS_URL"]
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

    def worker_cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.worker_pids)


@contextlib.asynccontextmanager
async def laptop(env: Mapping[str, str], children: Children) -> AsyncIterator[Deployment]:
    """``guestcomms dev``: everything in one process; its memory is the worker's."""
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    command = guestcomms("dev", "--port", str(port))
    async with serving(children, "dev", command, env, f"{url}/api/health") as process:
        yield Deployment(
            "laptop",
            "`guestcomms dev` on SQLite: web, 4 worker threads and scheduler in one process",
            url,
            [process.pid],
        )


@contextlib.asynccontextmanager
async def servers(
    env: Mapping[str, str], children: Children, workers: int = 2, threads: int = 8
) -> AsyncIterator[Deployment]:
    """The Procfile: ``guestcomms serve``, ``workers`` Dramatiq processes (one worker
    process each) and ``guestcomms scheduler`` (wakes retries, settles expired leases)."""
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    worker = python("-m", "dramatiq", "bot.worker", "--processes", "1", "--threads", str(threads))
    names = [f"worker-{port}-{n}" for n in range(workers)]
    started = [children.start(name, worker, env) for name in names]
    started.append(children.start(f"scheduler-{port}", guestcomms("scheduler"), env))
    try:
        serve = guestcomms("serve", "--port", str(port))
        async with serving(children, f"serve-{port}", serve, env, f"{url}/api/health"):
            await _workers_ready(started[:workers], [children.logs / f"{n}.log" for n in names])
            yield Deployment(
                "servers",
                f"`guestcomms serve` + {workers} Dramatiq worker processes × {threads} threads "
                "+ `guestcomms scheduler`, on PostgreSQL and Redis",
                url,
                [pid for process in started[:workers] for pid in child_pids(process.pid)],
            )
    finally:
        await asyncio.gather(*(asyncio.to_thread(children.stop, p) for p in started))


async def _workers_ready(
    supervisors: list[subprocess.Popen[bytes]], logs: list[Path], within: float = 90
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not all(log.exists() and WORKER_READY in log.read_bytes() for log in logs):
        for supervisor, log in zip(supervisors, logs, strict=True):
            if supervisor.poll() is not None:
                raise BenchFailed(f"a worker exited ({supervisor.returncode}):\n{tail(log)}")
        if asyncio.get_running_loop().time() > deadline:
            raise BenchFailed(f"workers not ready within {within:g} s:\n{tail(logs[0])}")
        await asyncio.sleep(0.1)

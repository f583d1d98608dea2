"""Servers a benchmark waits on, and what it reads of its processes (CPU, memory).

The processes themselves are ``bench.children``'s: each in its own process
group, all killed when the benchmark ends, however it ends (SIGTERM from
``make bench``'s time limit included). This module adds what the throughput
benchmarks need on top: a server is used only once it answers, a set-up
command is waited for, and a benchmark that cannot measure says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import tempfile
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import aiohttp

from bench.children import Children, run_benchmark

KEEP_WORK = "BENCH_KEEP_WORK"


class BenchFailed(Exception):
    """A benchmark could not measure what it set out to (a server that never came up…)."""


def run_main(work: Coroutine[Any, Any, int]) -> NoReturn:
    """``bench.children.run_benchmark``, and a ``BenchFailed`` ends the run with its
    reason and exit status 1 instead of a traceback."""

    async def guarded() -> int:
        try:
            return await work
        except BenchFailed as failure:
            print(f"benchmark failed: {failure}", flush=True)
            return 1

    run_benchmark(guarded())


@contextlib.contextmanager
def work_directory() -> Iterator[Path]:
    """Where a benchmark keeps its databases and its processes' logs: removed at the
    end, unless BENCH_KEEP_WORK is set (then kept, and named, for a post-mortem)."""
    if os.environ.get(KEEP_WORK):
        kept = Path(tempfile.mkdtemp(prefix="guestcomms-bench-"))
        print(f"work directory (kept): {kept}", flush=True)
        yield kept
        return
    with tempfile.TemporaryDirectory(prefix="guestcomms-bench-") as temporary:
        yield Path(temporary)


def free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as held:  # all open at once, so all different
        probes = [held.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def tail(log: Path, characters: int = 2000) -> str:
    return log.read_text(errors="replace")[-characters:] if log.exists() else ""


async def run_to_end(
    children: Children, name: str, command: Sequence[str], env: Mapping[str, str]
) -> None:
    """A set-up command (migrate, demo-data, import); its output goes to its log."""
    process = children.start(name, command, env)
    if await asyncio.to_thread(process.wait) != 0:
        raise BenchFailed(f"{' '.join(command)} failed:\n{tail(children.logs / f'{name}.log')}")


@contextlib.asynccontextmanager
async def serving(
    children: Children,
    name: str,
    command: Sequence[str],
    env: Mapping[str, str],
    ready: str,
    within: float = 90.0,
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """A server process, from when ``ready`` answers (any status) until it is stopped
    (SIGTERM, so that it closes its database cleanly)."""
    process = children.start(name, command, env)
    try:
        await wait_until_answers(ready, process, children.logs / f"{name}.log", within)
        yield process
    finally:
        await asyncio.to_thread(children.stop, process)


async def wait_until_answers(
    url: str, process: subprocess.Popen[bytes], log: Path, within: float
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url):
                    return
            if process.poll() is not None:
                raise BenchFailed(f"the server exited ({process.returncode}):\n{tail(log)}")
            if asyncio.get_running_loop().time() > deadline:
                raise BenchFailed(f"{url} did not answer within {within:g} s:\n{tail(log)}")
            await asyncio.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc; 0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (Dramatiq's supervisor → its worker processes)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def percentile_ms(seconds: Sequence[float], p: int) -> float:
    """The p-th percentile of durations in seconds, in milliseconds (nan for < 2)."""
    if len(seconds) < 2:
        return float("nan")
    return statistics.quantiles(seconds, n=100, method="inclusive")[p - 1] * 1000

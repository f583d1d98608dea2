"""The processes a benchmark starts and watches: servers, workers, and their costs.

Every process a benchmark starts gets its own session (process group), so
that stopping it stops what it started too (Dramatiq's supervisor and its
worker children); and every one is stopped when the benchmark ends, however
it ends: a script stopped by SIGTERM (``make bench``'s time limit) runs its
clean-up first (``run_main``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import tempfile
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

PROJECT = Path(__file__).resolve().parent.parent
# Stopped processes get this long to close cleanly before SIGKILL.
STOP_GRACE_SECONDS = 15.0
KEEP_WORK = "BENCH_KEEP_WORK"
EXIT_STOPPED = 124  # like timeout(1): the script was stopped before it finished


class BenchFailed(Exception):
    """A benchmark could not measure what it set out to (a server that never came up…)."""


def run_main(work: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run`` for a benchmark's main: SIGTERM cancels it, so its ``finally``
    blocks stop the servers and drop the databases it made; the exit status then
    says it was stopped."""

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await work

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        print("stopped (SIGTERM) before the end; the figures emitted so far stand")
        return EXIT_STOPPED
    except BenchFailed as failure:
        print(f"benchmark failed: {failure}")
        return 1


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


async def run_to_end(command: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path) -> None:
    """A set-up command (migrate, demo-data, import); its output goes to ``log``."""
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *command, env=dict(env), cwd=cwd, stdout=output, stderr=output
        )
    if await process.wait() != 0:
        raise BenchFailed(f"{' '.join(command)} failed:\n{tail(log)}")


async def stop_group(
    process: asyncio.subprocess.Process, grace: float = STOP_GRACE_SECONDS
) -> None:
    """SIGTERM to the process's group (it closes cleanly), SIGKILL after ``grace``."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
    # Children that outlived their parent (a worker mid-batch) go too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


async def start(
    command: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
) -> asyncio.subprocess.Process:
    with log.open("ab") as output:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            *command,
            env=dict(env),
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )


@contextlib.asynccontextmanager
async def serving(
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    ready: str,
    within: float = 90.0,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A server process, from when ``ready`` answers (any status) until it is stopped."""
    process = await start(command, env, cwd, log)
    try:
        await wait_until_answers(ready, process, log, within)
        yield process
    finally:
        await stop_group(process)


async def wait_until_answers(
    url: str, process: asyncio.subprocess.Process, log: Path, within: float
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url):
                    return
            if process.returncode is not None:
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


def children(pid: int) -> list[int]:
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

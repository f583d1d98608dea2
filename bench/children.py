"""The processes a benchmark starts, each in its own process group, all gone when it ends.

A benchmark that stops half-way (a missed target, an exception, Ctrl-C,
SIGTERM from ``make bench``) must not leave workers, servers or Redis
running. Every child starts a new session, so ``killpg`` reaches whatever
it forks in turn (Dramatiq's CLI forks its worker processes); leaving the
``with`` block kills every group still alive, whatever the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

PROJECT = Path(__file__).resolve().parent.parent


class Children:
    """Starts children and kills them; a context manager that kills all that remain."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._alive: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | None = None,
    ) -> subprocess.Popen[bytes]:
        """``argv`` in its own process group; its output goes to ``logs/name.log``
        unless ``stdout`` says otherwise (stderr always goes to the log)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 (the benchmark's own command lines)
                list(argv),
                env=dict(env),
                cwd=PROJECT,
                stdin=stdin,
                stdout=log if stdout is None else stdout,
                stderr=log,
                start_new_session=True,
            )
        self._alive.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL to the whole group, as the kernel's OOM killer or a lost machine would."""
        self._signal(process, signal.SIGKILL)
        self._reap(process, 30)

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL if it takes longer than ``timeout``."""
        self._signal(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        self.kill(process)

    def kill_all(self) -> None:
        for process in list(self._alive):
            self.kill(process)

    @staticmethod
    def _signal(process: subprocess.Popen[bytes], number: signal.Signals) -> None:
        # Only while the leader has not been reaped: after that its id may be
        # another process's. (Every child here waits for its own children.)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, number)

    def _reap(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        if process in self._alive:
            self._alive.remove(process)

    def __enter__(self) -> Children:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.kill_all()


def run_benchmark(benchmark: Coroutine[Any, Any, int]) -> NoReturn:
    """Run a benchmark's coroutine and exit with its status. Ctrl-C, SIGTERM (``make
    bench``'s time limit) and SIGHUP cancel it: every ``finally`` runs on the event loop
    (children killed, databases dropped), then it exits 130 with one line."""

    async def cancellable() -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGHUP):
            # Cancelling the task, not raising from a signal handler: an exception
            # raised inside whatever callback runs at that moment would skip the
            # clean-ups still to run on the loop.
            loop.add_signal_handler(number, task.cancel, f"signal {number}")
        return await benchmark

    try:
        status = asyncio.run(cancellable())
    except (KeyboardInterrupt, asyncio.CancelledError) as interruption:
        print(f"interrupted ({str(interruption) or 'Ctrl-C'}): stopped", file=sys.stderr)
        status = 130
    raise SystemExit(status)


def python(*arguments: str) -> list[str]:
    """A command line running this interpreter (the project's virtualenv)."""
    return [sys.executable, *arguments]


def guestcomms(*arguments: str) -> list[str]:
    """The project's CLI, from the same virtualenv as this interpreter."""
    return [str(Path(sys.executable).with_name("guestcomms")), *arguments]

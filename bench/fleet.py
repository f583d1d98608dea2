"""guestcomms' own processes for a benchmark: Dramatiq workers as the Procfile runs them,
the scheduler (the reconciler's tick) — and killing workers at random.

A killed worker is replaced at once, as a platform restarts a crashed
process: the benchmark measures what the kill costs, not a smaller fleet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from subprocess import Popen

from bench.children import Children, guestcomms, python

WORKER_MODULE = "bot.worker"


@dataclass
class Fleet:
    children: Children
    env: dict[str, str]
    threads: int
    # What ``dramatiq`` imports: the Procfile's, or one that wraps it to observe.
    worker_module: str = WORKER_MODULE
    workers: list[Popen[bytes]] = field(default_factory=list)
    kills: int = 0
    _started: int = 0

    def start_worker(self) -> Popen[bytes]:
        self._started += 1
        command = python(
            "-m",
            "dramatiq",
            self.worker_module,
            "--processes",
            "1",
            "--threads",
            str(self.threads),
        )
        worker = self.children.start(f"worker-{self._started}", command, self.env)
        self.workers.append(worker)
        return worker

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            self.start_worker()

    def kill_one(self, chance: random.Random) -> int:
        """SIGKILL a worker picked at random (its whole process group), start another;
        returns the killed group's id."""
        victim = self.workers.pop(chance.randrange(len(self.workers)))
        self.children.kill(victim)
        self.kills += 1
        self.start_worker()
        return victim.pid

    def start_scheduler(self, every: float) -> Popen[bytes]:
        return self.children.start(
            "scheduler", guestcomms("scheduler", "--every", str(every)), self.env
        )

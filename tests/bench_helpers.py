"""Running a benchmark script as ``make bench`` does, at a tiny size, and reading its figures.

Benchmarks run on demand (DESIGN.md); the suite runs each one small, through
its command line, so that none of them rots. Nothing here is timed: the
subprocess timeout only keeps a hung benchmark from hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.results import FIGURES_FILE, Figure, read
from tests import services

PROJECT = Path(__file__).resolve().parent.parent
HANG_GUARD_SECONDS = 600


@dataclass(frozen=True)
class Figures:
    figures: list[Figure]
    report: str

    def named(self, prefix: str) -> Figure:
        found = [f for f in self.figures if f.name.startswith(prefix)]
        assert len(found) == 1, f"{prefix!r} among {[f.name for f in self.figures]}"
        return found[0]


def leftover_processes(marker: str) -> list[str]:
    """Processes still running with ``marker`` in their environment (the figures file
    is unique per run, and every process a benchmark starts inherits it)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append((environ.parent / "cmdline").read_bytes().replace(b"\0", b" "))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return [command.decode(errors="replace") for command in found]


def bench_env(figures: Path, redis_url: str | None) -> dict[str, str]:
    env = {**os.environ, FIGURES_FILE: str(figures)}
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
        services.required_env("TEST_DATABASE_URL", "the benchmark on PostgreSQL")
    return env


def run_bench(
    name: str, arguments: list[str], tmp_path: Path, redis_url: str | None = None
) -> Figures:
    """``python -m bench.<name> …``: it must exit 0, emit figures and leave nothing running."""
    figures = tmp_path / f"{name}.jsonl"
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{name}", *arguments],
            cwd=PROJECT,
            env=bench_env(figures, redis_url),
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"bench.{name} did not end within {HANG_GUARD_SECONDS} s: {hung.stdout!r}")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}"
    assert not leftover_processes(str(figures)), leftover_processes(str(figures))
    emitted = read(figures)
    assert emitted, done.stdout
    return Figures(emitted, done.stdout)

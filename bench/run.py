"""``make bench``: each benchmark in its own process, their figures in ``bench/RESULTS.md``.

    .venv/bin/python -m bench.run [--only campaign,inbound] [--quick] [--output PATH]

The runner starts one private ``redis-server`` (no persistence, a free port
of 127.0.0.1) for the whole run, then runs the scripts of ``SCRIPTS`` one
after another, each as ``python -m bench.<name>`` with a time limit, and
writes the table of every figure they emitted, with the machine, its load
average before the run and the versions measured against. ``--quick`` runs
smoke sizes (seconds each, for checking that everything still runs; their
figures mean nothing). A quick run, or one of some benchmarks only
(``--only``), writes ``bench/RESULTS.local.md`` instead, which git ignores:
``bench/RESULTS.md`` is the record of a whole run.

What a script must do to take part (figures 6–8 plug in the same way):

* run as ``python -m bench.<name>`` and accept ``--quick``;
* print a readable report on stdout, and hand its figures to
  ``bench.results.emit`` (JSON lines appended to the file named by
  BENCH_FIGURES) as soon as each is measured;
* use Redis at REDIS_URL (under a key prefix of its own) and make its own
  PostgreSQL databases next to TEST_DATABASE_URL, dropping them after;
* bound every load in count and time, send only to 127.0.0.1, and stop by
  itself; on SIGTERM, stop what it started (``bench.children``: its
  ``Children`` and ``run_benchmark``) — the runner sends SIGTERM at the time
  limit and SIGKILL to the script's process group ``KILL_AFTER`` seconds
  later;
* exit 0 when its checks held, non-zero otherwise. The throughput
  benchmarks report a missed performance target as a figure and fail only
  when something was lost, doubled or wrong; the fault benchmarks' targets
  are such checks, so they fail when one is missed.

A script listed here but not yet written is reported as missing and skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.util
import os
import platform
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.backends import OwnRedis, admin_url, postgres_version, redis_version
from bench.children import PROJECT, Children
from bench.processes import run_main
from bench.results import FIGURES_FILE, Figure, read, table

RESULTS = PROJECT / "bench" / "RESULTS.md"
QUICK_RESULTS = PROJECT / "bench" / "RESULTS.local.md"
KILL_AFTER = 30.0


@dataclass(frozen=True, slots=True)
class Script:
    name: str  # bench/<name>.py
    measures: str
    limit: float  # seconds, full size
    quick_limit: float


SCRIPTS = (
    Script("campaign", "1 throughput, 3 Slack acks, 5 memory", 1800, 420),
    Script("inbound", "2 inbound webhooks", 420, 240),
    Script("pacing", "4 pacing", 600, 300),
    Script("chaos", "6 SIGKILLed workers", 1200, 300),
    Script("stop_during_send", "7 STOP during a live send", 900, 300),
    Script("claims", "8 claim races", 900, 300),
    Script("encryption", "issue 8: encryption at rest, import and batches", 900, 240),
)


@dataclass
class Outcome:
    script: Script
    status: str  # "exit 0", "exit 1", "stopped at its time limit", "missing"
    seconds: float = 0.0
    figures: list[Figure] = field(default_factory=list)
    report: str = ""
    errors: str = ""

    @property
    def failed(self) -> bool:
        return self.status not in {"exit 0", "missing"}


def exists(script: Script) -> bool:
    return importlib.util.find_spec(f"bench.{script.name}") is not None


async def run_script(script: Script, quick: bool, env: dict[str, str], work: Path) -> Outcome:
    if not exists(script):
        print(f"[{script.name}] bench/{script.name}.py is missing: skipped", flush=True)
        return Outcome(script, "missing")
    figures_file = work / f"{script.name}.jsonl"
    errors = work / f"{script.name}.stderr"
    command = [sys.executable, "-m", f"bench.{script.name}", *(["--quick"] if quick else [])]
    limit = script.quick_limit if quick else script.limit
    print(f"[{script.name}] {shlex.join(command[1:])} (limit {limit:g} s)", flush=True)
    started = time.monotonic()
    with errors.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *command,
            env={**env, FIGURES_FILE: str(figures_file)},
            cwd=PROJECT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    lines: list[str] = []

    async def echo() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            print(f"[{script.name}] {line}", flush=True)

    reading = asyncio.create_task(echo())
    try:
        await asyncio.wait_for(asyncio.shield(process.wait()), timeout=limit)
        status = f"exit {process.returncode}"
    except TimeoutError:
        status = f"stopped at its time limit ({limit:g} s)"
        await _stop(process)
    finally:
        if process.returncode is None:  # the runner itself was stopped
            await _stop(process)
        await reading
    seconds = time.monotonic() - started
    print(f"[{script.name}] {status} after {seconds:.0f} s", flush=True)
    return Outcome(
        script,
        status,
        seconds,
        read(figures_file),
        "\n".join(lines),
        errors.read_text(errors="replace")[-3000:],
    )


async def _stop(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=KILL_AFTER)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


def _git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=PROJECT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" with uncommitted changes" if git("status", "--porcelain") else "")


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


@dataclass(frozen=True, slots=True)
class Machine:
    started: datetime
    cores: int
    load_before: tuple[float, float, float]
    python: str
    sqlite: str
    postgresql: str
    redis: str
    commit: str


def results_markdown(
    machine: Machine, outcomes: list[Outcome], command: str, seconds: float, quick: bool
) -> str:
    date = machine.started.strftime("%Y-%m-%d")
    load = " / ".join(f"{v:.2f}" for v in machine.load_before)
    after = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [
        "# Benchmark results" + (" (quick: smoke sizes, not figures)" if quick else ""),
        "",
        f"Written by `{command}` (what `make bench` runs) on "
        f"{machine.started.strftime('%Y-%m-%d %H:%M')} UTC; the run took {_duration(seconds)}. "
        "Each benchmark's baseline was measured in the same run, on the same machine.",
        "",
        "| | |",
        "|---|---|",
        f"| machine | {machine.cores} cores ({platform.system()} {platform.machine()}) |",
        f"| load average before the run (1, 5, 15 min) | {load} |",
        f"| load average after the run | {after} |",
        f"| Python | {machine.python} |",
        f"| SQLite | {machine.sqlite} |",
        f"| PostgreSQL | {machine.postgresql} |",
        f"| Redis | {machine.redis} (a private redis-server for the run) |",
        f"| commit | {machine.commit} |",
        "",
        "## Figures",
        "",
        table([f for o in outcomes for f in o.figures], date=date, cores=machine.cores).rstrip(),
        "",
        "## Scripts",
        "",
        "| script | measures | took | outcome |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        took = _duration(o.seconds) if o.status != "missing" else "—"
        status = (
            f"missing: bench/{o.script.name}.py does not exist yet"
            if o.status == "missing"
            else o.status
        )
        lines.append(f"| `bench/{o.script.name}.py` | {o.script.measures} | {took} | {status} |")
    lines += ["", "## Reports", ""]
    for o in outcomes:
        if o.status == "missing":
            continue
        lines += [f"### {o.script.name}", "", "```text", o.report.strip() or "(nothing)", "```"]
        if o.failed and o.errors.strip():
            lines += ["", "Its standard error, the end:", "", "```text", o.errors.strip(), "```"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


async def run(only: list[str], quick: bool, output: Path, command: str) -> int:
    chosen = [s for s in SCRIPTS if not only or s.name in only]
    machine = Machine(
        started=datetime.now(UTC),
        cores=os.cpu_count() or 0,
        load_before=os.getloadavg(),
        python=platform.python_version(),
        sqlite=sqlite3.sqlite_version,
        postgresql=f"{await postgres_version()} at {admin_url().render_as_string()}",
        redis="",
        commit=_git_commit(),
    )
    print(
        f"bench: {len(chosen)} scripts, load average {machine.load_before[0]:.2f} on "
        f"{machine.cores} cores",
        flush=True,
    )
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with (
        tempfile.TemporaryDirectory(prefix="guestcomms-bench-run-") as tmp,
        Children(Path(tmp) / "logs") as children,
    ):
        work = Path(tmp)
        redis = OwnRedis(children)
        redis.start()
        try:
            machine = dataclasses.replace(machine, redis=redis_version(redis.url))
            env = {**os.environ, "REDIS_URL": redis.url}
            env.pop(FIGURES_FILE, None)
            for script in chosen:
                outcomes.append(await run_script(script, quick, env, work))
                # After each script, so a run stopped halfway still leaves its figures.
                markdown = results_markdown(
                    machine, outcomes, command, time.monotonic() - started, quick
                )
                await asyncio.to_thread(output.write_text, markdown)
        finally:
            redis.close()
    print(f"bench: wrote {output} ({_duration(time.monotonic() - started)})", flush=True)
    return 1 if any(o.failed for o in outcomes) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    names = [s.name for s in SCRIPTS]
    parser.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(names)}")
    parser.add_argument("--quick", action="store_true", help="smoke sizes, not figures")
    parser.add_argument(
        "--output", type=Path, help="default bench/RESULTS.md (quick or --only: RESULTS.local.md)"
    )
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(names))
    if unknown:
        parser.error(f"--only: no benchmark called {', '.join(unknown)}; there are {names}")
    # RESULTS.md is the record: only a full run at full size writes it.
    output = args.output or (QUICK_RESULTS if args.quick or only else RESULTS)
    command = shlex.join([".venv/bin/python", "-m", "bench.run", *(sys.argv[1:])])
    run_main(run(only, args.quick, output, command))


if __name__ == "__main__":
    main()

"""``make bench``'s runner: each script in its own process with a time limit, missing
scripts reported and skipped, and RESULTS.md written from what the scripts emitted."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.results import Figure
from bench.run import SCRIPTS, Machine, Outcome, Script, results_markdown, run_script
from tests.bench_helpers import leftover_processes

MACHINE = Machine(
    started=datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
    cores=2,
    load_before=(4.5, 3.25, 2.0),
    python="3.11.7",
    sqlite="3.40.1",
    postgresql="15.20",
    redis="7.0.15",
    commit="abc1234",
)


async def test_a_missing_script_is_reported_and_skipped(tmp_path: Path) -> None:
    outcome = await run_script(Script("no_such_bench", "9 nothing", 10, 10), False, {}, tmp_path)
    assert outcome.status == "missing"
    assert not outcome.failed


async def test_a_script_that_fails_keeps_its_error_for_the_results(tmp_path: Path) -> None:
    # bench.fakes is a helper process, not a benchmark: without --ports it refuses to start.
    outcome = await run_script(Script("fakes", "-", 60, 60), True, {}, tmp_path)
    assert outcome.status == "exit 2"
    assert outcome.failed
    assert "--ports" in outcome.errors


async def test_a_script_at_its_time_limit_is_stopped_with_all_it_started(tmp_path: Path) -> None:
    # Fifteen seconds in, the quick inbound benchmark (25–50 s in all) is past its
    # imports, so its SIGTERM handler is set, and is running servers of its own for
    # that handler to stop. (At two seconds a busy machine was still importing: the
    # signal's default action ended it before any handler existed.)
    script = Script("inbound", "2 inbound webhooks", 15, 15)
    outcome = await run_script(script, True, dict(os.environ), tmp_path)
    assert outcome.status == "stopped at its time limit (15 s)"
    assert "interrupted (signal 15): stopped" in outcome.errors
    assert not leftover_processes(str(tmp_path / "inbound.jsonl"))


def test_results_name_the_machine_the_figures_and_each_script() -> None:
    figure = Figure("pacing", "4. pacing at 3/s", 2.9, "texts/s", "±5% of 3", False, 3, 0.97)
    outcomes = [
        Outcome(SCRIPTS[2], "exit 0", 95, [figure], "3/s: 120 texts"),
        Outcome(SCRIPTS[3], "missing"),
        Outcome(SCRIPTS[4], "stopped at its time limit (900 s)", 900, [], "", "Traceback …"),
    ]
    text = results_markdown(MACHINE, outcomes, "make bench", 1000, quick=False)
    assert "`make bench`" in text
    assert "on 2026-11-30 09:15 UTC; the run took 16 min 40 s" in text
    assert "| load average before the run (1, 5, 15 min) | 4.50 / 3.25 / 2.00 |" in text
    for version in ("| Python | 3.11.7 |", "| SQLite | 3.40.1 |", "| PostgreSQL | 15.20 |"):
        assert version in text
    assert (
        "| pacing | 4. pacing at 3/s | 2.9 texts/s | 3 texts/s | 0.97 | ±5% of 3 | **MISSED** "
        in text
    )
    missing = "| `bench/chaos.py` | 6 SIGKILLed workers | — | missing: bench/chaos.py does not"
    assert missing in text
    assert "Traceback …" in text  # a failed script's error is kept
    assert "3/s: 120 texts" in text


def test_only_names_known_benchmarks() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--only", "campaign,warp"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "no benchmark called warp" in done.stderr

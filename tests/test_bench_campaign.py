"""The campaign benchmark (figures 1, 3 and 5) runs end to end at a tiny size: guestcomms
as an operator runs it, approved by a signed Slack command, every message once.

Nothing is timed here (DESIGN.md: tests never assert on wall time); the
figures that mean something come from ``make bench``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.campaign import CampaignRun, planners_commands
from bench.slack_load import Acks
from tests.bench_helpers import Figures, run_bench

TINY = ["--recipients", "20", "--slack-commands", "4", "--naive-sample", "5"]


def _every_message_once(figures: Figures, backend: str) -> None:
    # Two campaigns: a clean one, and one with planners' slash commands meanwhile.
    complete = figures.named(
        f"1. each guest one text and one email, every delivery final (2 finished campaigns), "
        f"{backend}"
    )
    assert complete.passed, figures.report
    assert complete.value == 80
    throughput = figures.named("1. throughput, 20 recipients × SMS + email, " + backend)
    assert throughput.baseline  # the raw baseline ran in the same run
    assert throughput.ratio
    naive = figures.named("1. vs a naive loop")
    assert naive.baseline
    assert naive.ratio
    acks = figures.named("3. Slack ack p99")
    assert "slash commands during the campaign" in acks.name
    memory = figures.named("5. worker memory growth")
    assert memory.unit == "MB"
    beside = figures.named("3. throughput while those commands were answered")
    assert beside.baseline == throughput.value  # compared with the clean run


def test_the_benchmark_runs_on_sqlite_with_guestcomms_dev(tmp_path: Path) -> None:
    figures = run_bench("campaign", [*TINY, "--backends", "sqlite"], tmp_path)
    _every_message_once(figures, "SQLite")
    assert "`guestcomms dev` on SQLite" in figures.report


@pytest.mark.integration
def test_the_benchmark_runs_on_postgresql_with_worker_processes(
    tmp_path: Path, redis_url: str
) -> None:
    figures = run_bench("campaign", [*TINY, "--backends", "postgresql"], tmp_path, redis_url)
    _every_message_once(figures, "PostgreSQL")
    assert "2 Dramatiq worker processes" in figures.report


def test_planners_ask_about_the_campaign_and_more() -> None:
    commands = planners_commands(7, 5)
    assert commands[0] == "campaign show 7"
    assert len(commands) == 5
    assert len(set(commands)) == 3


def test_an_unknown_back_end_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.campaign", "--backends", "mysql"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "unknown back ends ['mysql']" in done.stdout


def test_a_run_cut_off_at_its_limit_says_so_and_counts_what_was_final() -> None:
    run = CampaignRun(
        backend="sqlite",
        description="",
        recipients=100,
        seconds=50.0,
        finished=False,
        texts=30,
        emails=30,
        statuses={"pending": 130, "sending": 10, "sent": 60},
        memory_growth_mb={},
        worker_cpu=0.0,
        acks=Acks(),
    )
    assert run.final == 60
    assert run.rate == 0.6  # 30 recipients' two messages in 50 s
    assert run.cut_off == " — NOT OVER after 50 s, 60 of 200 deliveries final"
    assert not run.complete

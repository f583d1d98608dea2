"""The encryption benchmark runs end to end at a tiny size and reports each stage against
the pass-through run. Nothing is timed here: the figures come from ``make bench``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench_helpers import Figures, run_bench

STAGES = ("import", "re-import", "approval", "batches")


def _each_stage_against_the_pass_through(figures: Figures, backend: str) -> None:
    for stage in STAGES:
        figure = figures.named(f"{stage} CPU time, 100 guests ({backend})")
        assert figure.baseline is not None
        assert figure.baseline > 0
        # Value and baseline are rounded: the ratio agrees with them only roughly.
        assert figure.ratio == pytest.approx(figure.value / figure.baseline, rel=0.05)
        assert figure.target == "≤ 1.2× the pass-through"


def test_the_benchmark_runs_on_sqlite(tmp_path: Path) -> None:
    figures = run_bench("encryption", ["--quick", "--backends", "sqlite"], tmp_path)
    _each_stage_against_the_pass_through(figures, "SQLite")


@pytest.mark.integration
def test_the_benchmark_runs_on_postgresql(tmp_path: Path, postgres_url: object) -> None:
    figures = run_bench("encryption", ["--quick", "--backends", "postgresql"], tmp_path)
    _each_stage_against_the_pass_through(figures, "PostgreSQL")

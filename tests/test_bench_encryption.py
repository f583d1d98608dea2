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
        assert figure.ratio is not None
        # Value and baseline are rounded to the millisecond, and at the smoke size a
        # stage takes only ~15 ms: the ratio agrees with them within that rounding
        # (half a millisecond each), not within a fixed percentage.
        half_unit = 0.0005
        assert (
            abs(figure.ratio * figure.baseline - figure.value)
            <= half_unit * (1 + figure.ratio) + 0.001 * figure.baseline
        )
        assert figure.target == "≤ 1.2× the pass-through"


def test_the_benchmark_runs_on_sqlite(tmp_path: Path) -> None:
    figures = run_bench("encryption", ["--quick", "--backends", "sqlite"], tmp_path)
    _each_stage_against_the_pass_through(figures, "SQLite")


@pytest.mark.integration
def test_the_benchmark_runs_on_postgresql(tmp_path: Path, postgres_url: object) -> None:
    figures = run_bench("encryption", ["--quick", "--backends", "postgresql"], tmp_path)
    _each_stage_against_the_pass_through(figures, "PostgreSQL")

"""The pacing benchmark (figure 4) runs end to end at a tiny size: a Twilio fake that
enforces the sender's rate, two worker processes sharing the pace through Redis.

Nothing is timed here; the achieved rate and the 429s are ``make bench``'s figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.pacing import Paced
from tests.bench_helpers import run_bench


@pytest.mark.integration
def test_the_benchmark_runs_and_every_text_goes_once(tmp_path: Path, redis_url: str) -> None:
    figures = run_bench("pacing", ["--rates", "20", "--seconds", "1"], tmp_path, redis_url)
    paced = figures.named("4. pacing at 20/s per sender (20 texts; the fake enforces 20/s)")
    assert paced.baseline == 20
    assert "20 texts, 20 arrived" in figures.report  # each text once, 429s retried


def test_the_achieved_rate_and_the_busiest_second_come_from_the_arrivals() -> None:
    arrivals = [100.0 + n * 0.25 for n in range(9)]  # 4 a second for 2 s
    paced = Paced(4, 0.0, 9, arrivals, 0, {"sent": 9})
    assert paced.achieved == pytest.approx(4)
    assert paced.busiest_second() == 4
    assert paced.passed
    doubled = Paced(4, 0.0, 9, [*arrivals[:4], 100.9, *arrivals[4:8]], 0, {"sent": 9})
    assert doubled.busiest_second() == 5


def test_a_429_or_a_lost_text_misses_the_target() -> None:
    arrivals = [100.0 + n for n in range(5)]
    assert not Paced(1, 0.0, 5, arrivals, 1, {"sent": 5}).passed
    assert not Paced(1, 0.0, 6, arrivals, 0, {"sent": 6}).passed
    assert not Paced(1, 0.0, 5, [a * 1.1 for a in arrivals], 0, {"sent": 5}).passed


def test_a_run_not_over_in_time_is_not_finished_but_nothing_was_lost_yet() -> None:
    arrivals = [100.0 + n for n in range(39)]
    late = Paced(1, 0.0, 40, arrivals, 23, {"pending": 1, "sent": 39})
    assert not late.finished
    assert not late.passed
    assert Paced(1, 0.0, 40, [*arrivals, 139.0], 0, {"sent": 40}).finished

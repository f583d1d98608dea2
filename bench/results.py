"""What a benchmark found, in one shape for every script, and the table they make.

Each script in ``bench/`` prints its own report and hands its figures to
``emit``. When ``make bench`` runs the scripts (each in its own process), it
sets BENCH_FIGURES to a file where ``emit`` appends one JSON line per figure;
the runner then writes ``bench/RESULTS.md`` from all of them with ``table``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

FIGURES_FILE = "BENCH_FIGURES"


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure against its target.

    ``baseline`` is the same work measured in the same run by the simplest
    thing that could do it (a trivial handler, a direct client); ``ratio`` is
    ``value / baseline`` where that means something. ``passed`` is None for a
    figure that has no target of its own (a baseline, a context figure).
    """

    bench: str
    name: str
    value: float
    unit: str
    target: str = ""
    passed: bool | None = None
    baseline: float | None = None
    ratio: float | None = None


def emit(figures: Iterable[Figure]) -> None:
    """Hand figures to ``make bench``'s runner, if one is listening."""
    path = os.environ.get(FIGURES_FILE)
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as out:
        for figure in figures:
            out.write(json.dumps(asdict(figure)) + "\n")


def read(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    return [Figure(**json.loads(line)) for line in path.read_text().splitlines() if line]


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


def table(figures: Sequence[Figure], *, date: str, cores: int) -> str:
    """The Markdown table of RESULTS.md (and the README's performance section)."""
    lines = [
        "| benchmark | figure | value | baseline (same run) | ratio | target | result "
        "| date | cores |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        result = {True: "pass", False: "**MISSED**", None: ""}[f.passed]
        lines.append(
            f"| {f.bench} | {f.name} | {_number(f.value, f.unit)} "
            f"| {_number(f.baseline, f.unit) if f.baseline is not None else '—'} "
            f"| {_number(f.ratio)} | {f.target or '—'} | {result} | {date} | {cores} |"
        )
    return "\n".join(lines) + "\n"

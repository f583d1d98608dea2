"""The end of a benchmark: its figures printed against their targets, handed to ``make
bench``'s runner, and the exit status (1 when any target was missed)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.results import Figure, emit


def _value(figure: Figure) -> str:
    value = f"{figure.value:,.0f}" if figure.value == int(figure.value) else f"{figure.value:,.2f}"
    return f"{value} {figure.unit}".strip()


def verdict(figures: Sequence[Figure]) -> int:
    for figure in figures:
        line = f"{figure.name}: {_value(figure)}"
        if figure.baseline is not None:
            line += f" (baseline {figure.baseline:,.1f} {figure.unit}"
            line += f", ratio {figure.ratio:.2f})" if figure.ratio is not None else ")"
        if figure.target:
            result = {True: "met", False: "MISSED", None: "no verdict"}[figure.passed]
            line += f"  [target {figure.target}: {result}]"
        print(line)
    emit(figures)
    missed = [f.name for f in figures if f.passed is False]
    print(f"result: {'MISSED: ' + '; '.join(missed) if missed else 'every target met'}")
    return 1 if missed else 0

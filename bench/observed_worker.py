"""``dramatiq bench.observed_worker``: the Procfile's workers (``bot.worker``, unchanged),
plus a record of when each opt-out check ran, for ``bench.stop_during_send``.

The project keeps no time of a text's last opt-out check (the claim's
``updated_at`` is overwritten when the result is recorded), yet it is what
tells a text that left before a STOP committed from one that left after.
So this module listens, through SQLAlchemy's public event API, to every
statement the worker sends that reads the suppression ledger, and writes
its start and end (wall-clock seconds, the clock the benchmark reads too)
and the phone numbers it asked about to ``$BENCH_CHECKS_DIR/checks-<pid>.jsonl``.
It changes nothing the worker does.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.worker import broker

__all__ = ["broker"]  # what Dramatiq's CLI serves

LEDGER_READ = "FROM suppressions"
_HASH = re.compile(r"[0-9a-f]{64}")  # store.keyring's index: hex HMAC-SHA256
_files: dict[int, TextIO] = {}


def _out() -> TextIO:
    """This process's file (Dramatiq forks: the pid decides)."""
    pid = os.getpid()
    if pid not in _files:
        path = Path(os.environ["BENCH_CHECKS_DIR"]) / f"checks-{pid}.jsonl"
        _files[pid] = path.open("a", buffering=1)  # a line at a time: a kill loses none
    return _files[pid]


def _names_an_address(value: object) -> bool:
    """A phone number, or the ledger's keyed hash of one (checks match on the hash)."""
    return isinstance(value, str) and (value.startswith("+") or bool(_HASH.fullmatch(value)))


def _numbers(parameters: Any) -> list[str]:
    """The numbers (or their hashes) a ledger read asked about."""
    values = parameters.values() if isinstance(parameters, dict) else parameters
    found: list[str] = []
    for value in values or ():
        if isinstance(value, list | tuple):
            found += [v for v in value if _names_an_address(v)]
        elif _names_an_address(value):
            found.append(value)
    return found


@event.listens_for(Engine, "before_cursor_execute")
def _before(
    connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    if LEDGER_READ in statement and context is not None:
        context.bench_check_started = time.time()


@event.listens_for(Engine, "after_cursor_execute")
def _after(
    connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    if LEDGER_READ not in statement or context is None:
        return
    numbers = _numbers(parameters)
    if numbers:
        line = {"start": context.bench_check_started, "end": time.time(), "numbers": numbers}
        _out().write(json.dumps(line) + "\n")

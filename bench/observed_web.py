"""``python -m bench.observed_web serve --port P``: guestcomms' own CLI, plus a record of
when each transaction that wrote opt-outs committed, for ``bench.stop_during_send``.

A STOP's ledger row is written some milliseconds before its transaction
commits, and its answer leaves some milliseconds after. Whether a worker's
opt-out check could have seen the STOP depends on the COMMIT itself, so this
module listens, through SQLAlchemy's public session events, for sessions
that insert into the suppression ledger, and writes when their commit began
and when it returned (wall-clock seconds) with the numbers it made final, to
``$BENCH_CHECKS_DIR/commits-<pid>.jsonl``. It changes nothing the server does.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from bot.cli import main

LEDGER = "suppressions"
_STOPS = "bench_stops"
_COMMIT_BEGAN = "bench_commit_began"


@event.listens_for(Session, "do_orm_execute")
def _note_opt_outs(state: ORMExecuteState) -> None:
    table = getattr(state.statement, "table", None)
    if not state.is_insert or getattr(table, "name", None) != LEDGER:
        return
    rows: Any = state.parameters or []
    rows = rows if isinstance(rows, list) else [rows]
    numbers = [row["address"] for row in rows if str(row.get("address", "")).startswith("+")]
    state.session.info.setdefault(_STOPS, []).extend(numbers)


@event.listens_for(Session, "before_commit")
def _commit_begins(session: Session) -> None:
    if session.info.get(_STOPS):
        session.info[_COMMIT_BEGAN] = time.time()


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    numbers = session.info.pop(_STOPS, None)
    began = session.info.pop(_COMMIT_BEGAN, None)
    if numbers and began is not None:
        line = {"start": began, "end": time.time(), "numbers": numbers}
        path = Path(os.environ["BENCH_CHECKS_DIR"]) / f"commits-{os.getpid()}.jsonl"
        with path.open("a") as out:
            out.write(json.dumps(line) + "\n")


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_STOPS, None)
    session.info.pop(_COMMIT_BEGAN, None)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""``python -m bench.observed_web serve --port P``: guestcomms' own CLI, plus a record of
when each transaction that wrote opt-outs committed, for ``bench.stop_during_send``.

A STOP's ledger row is written some milliseconds before its transaction
commits, and its answer leaves some milliseconds after. Whether a worker's
opt-out check could have seen the STOP depends on the COMMIT itself, so this
module notes the numbers each session adds to the suppression ledger (through
``SuppressionLedger.suppress_all``, wrapped here: the ledger's rows go
straight to the connection, where no ORM event sees them) and, through
SQLAlchemy's public session events, writes when that session's commit began
and when it returned (wall-clock seconds) with the numbers it made final, to
``$BENCH_CHECKS_DIR/commits-<pid>.jsonl``. It changes nothing the server does.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.cli import main
from store.enums import Channel
from store.repositories.suppressions import NewEntry, SuppressionLedger

_STOPS = "bench_stops"
_COMMIT_BEGAN = "bench_commit_began"


_suppress_all = SuppressionLedger.suppress_all


async def _noting_opt_outs(
    ledger: SuppressionLedger, entries: Sequence[NewEntry]
) -> set[tuple[int, Channel, str]]:
    added = await _suppress_all(ledger, entries)
    numbers = [address for _, channel, address in added if channel == Channel.SMS]
    ledger.session.info.setdefault(_STOPS, []).extend(numbers)
    return added


SuppressionLedger.suppress_all = _noting_opt_outs  # type: ignore[method-assign, assignment]


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

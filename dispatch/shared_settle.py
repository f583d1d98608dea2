"""Final outcomes of a worker process's concurrent batches, written together.

An email taken by a provider that is not idempotent (SMTP) is recorded before
the batch's next email goes: lost, it would be sent again. One by one, that
was an UPDATE for every email, about a tenth of a campaign worker's busy time
and as many round trips for PostgreSQL, which shares the machine. A worker
process runs several batches on one event loop: while one write is under way
the others' outcomes queue, and the next write takes all of them (one
executemany, one round trip). Each batch still waits until its own rows are
written, so what a crash can lose is unchanged; rows stay guarded by their
own batch's lease.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from datetime import datetime

from store.database import Database
from store.repositories.deliveries import DeliveryRepository, Outcome


class SharedSettle:
    """One event loop's writer of final outcomes, for one database."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._rows: list[tuple[str, Outcome, datetime]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None

    async def settle(self, owner: str, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Return once these outcomes are written (raise what the write raised)."""
        if not outcomes:
            return
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rows += [(owner, outcome, now) for outcome in outcomes]
        self._waiting.append(written)
        # A task cancelled before it ran never cleared the field: start another.
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_queued())
        # Shielded: a batch that gives up waiting must not cancel the others' write.
        await asyncio.shield(written)

    async def _write_while_queued(self) -> None:
        waiting: list[asyncio.Future[None]] = []
        try:
            while self._rows:
                rows, self._rows = self._rows, []
                waiting, self._waiting = self._waiting, []
                try:
                    async with self._database.one_statement() as session:
                        await DeliveryRepository(session).settle_owned(rows)
                except Exception as error:
                    _settle_all(waiting, error)
                else:
                    _settle_all(waiting, None)
        except asyncio.CancelledError:
            # The loop is closing: nobody may wait for a write that will not come.
            for future in [*waiting, *self._waiting]:
                future.cancel()
            raise
        finally:
            self._writer = None


def _settle_all(waiting: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in waiting:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


_SHARED: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Database, SharedSettle]
] = weakref.WeakKeyDictionary()


def shared_settle(database: Database) -> SharedSettle:
    """The running event loop's writer for ``database`` (made on first use)."""
    per_database = _SHARED.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    settle = per_database.get(database)
    if settle is None:
        settle = per_database[database] = SharedSettle(database)
    return settle

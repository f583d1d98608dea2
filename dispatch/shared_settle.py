"""Final outcomes of a worker process's concurrent batches, written together.

An email taken by a provider that is not idempotent (SMTP) is recorded before
the batch's next email goes: lost, it would be sent again. One by one, that
was an UPDATE for every email, about a tenth of a campaign worker's busy time
and as many round trips for PostgreSQL, which shares the machine. A worker
process runs several batches on one event loop: while one write is under way
the others' outcomes queue, and the next write takes all of them (one
executemany, one round trip). Each batch still waits until its own rows are
written, so what a crash can lose is unchanged; rows stay guarded by their
own batch's lease. When a shared write fails, each batch's rows are written
again alone: only a batch whose own rows fail hears of it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from datetime import datetime

from store.database import Database
from store.repositories.deliveries import DeliveryRepository, Outcome

# A row's lease owner, its outcome, and when it was settled.
_Row = tuple[str, Outcome, datetime]


class SharedSettle:
    """One event loop's writer of final outcomes, for one database."""

    def __init__(self, database: Database) -> None:
        self._database = database
        # Each caller's rows and the future it waits on, in the order they came.
        self._queued: list[tuple[list[_Row], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def settle(self, owner: str, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Return once these outcomes are written (raise what their write raised)."""
        if not outcomes:
            return
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append(([(owner, outcome, now) for outcome in outcomes], written))
        # A task cancelled before it ran never cleared the field: start another.
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_queued())
        # Shielded: a batch that gives up waiting must not cancel the others' write.
        await asyncio.shield(written)

    async def _write_while_queued(self) -> None:
        taken: list[tuple[list[_Row], asyncio.Future[None]]] = []
        try:
            while self._queued:
                taken, self._queued = self._queued, []
                try:
                    await self._write([row for rows, _ in taken for row in rows])
                except Exception as error:
                    if len(taken) == 1:
                        _settle(taken[0][1], error)
                        continue
                    # One caller's rows (or a blip) failed the shared write: each
                    # caller's alone, so only those whose own rows fail hear of it.
                    for rows, written in taken:
                        try:
                            await self._write(rows)
                        except Exception as own_error:
                            _settle(written, own_error)
                        else:
                            _settle(written, None)
                else:
                    for _, written in taken:
                        _settle(written, None)
        except asyncio.CancelledError:
            # The loop is closing: nobody may wait for a write that will not come.
            for _, written in [*taken, *self._queued]:
                written.cancel()
            raise
        finally:
            self._writer = None

    async def _write(self, rows: list[_Row]) -> None:
        async with self._database.one_statement() as session:
            await DeliveryRepository(session).settle_owned(rows)


def _settle(written: asyncio.Future[None], error: Exception | None) -> None:
    if written.done():
        return
    if error is None:
        written.set_result(None)
    else:
        written.set_exception(error)


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

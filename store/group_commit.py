"""Group commit: concurrent callers' writes share one transaction, and each caller
hears back only after that transaction committed.

A webhook whose answer must wait for its effect to be durable (a STOP is final
before its TwiML leaves) pays for a whole transaction per request when each
runs its own; SQLite serialises them, so 32 requests in flight queue for
32 transactions. Here one writer task per process (per event loop) takes
everything that arrived while the previous batch was committing, and what
keeps arriving for a moment after, and applies it in one transaction with
set-based statements. Under no load a batch is one item, which waits a tenth
of a millisecond for company; under load the batch grows with the load.

Failure never commits part of a batch. A batch that raises is rolled back and
each of its items is tried again alone, so one item that cannot be stored
fails only its own caller; when the database itself is down every caller gets
the error, and none is told its write happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import REQUEST_ID
from store.database import Database, QuickWriter

log = structlog.get_logger(__name__)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

Apply = Callable[[AsyncSession, Sequence[ItemT]], Awaitable[Sequence[ResultT]]]
# Bounds one transaction's statements (SQLite's bound-parameter limit, and how
# long the write lock is held) — far above what 32 connections bring at once.
MOST_PER_BATCH = 256
# While items keep arriving, a batch waits for more: until none has come for
# ARRIVAL_GAP_SECONDS, and never longer than MOST_WAIT_SECONDS in all. Most of
# a batch's cost is paid once whatever it holds (the webhook benchmark's texts
# on SQLite, in process: 73 µs a text in batches of 12, 54 in batches of 24, so
# ~450 µs a batch and ~35 µs a text — the session, the statements, the COMMIT's
# pages of every table and index it touched), and the texts of 32 connections
# come in spread over a millisecond, as the other side sends each after reading
# its answer. Waiting only for turns of the loop that brought some, batches
# averaged 12 texts; with the gap, 21, and the server does ~11 % more texts a
# second with ~10 % less CPU a text (on PostgreSQL, whose COMMIT does not hold
# the loop, no change beyond the noise). The wait spins through turns of the
# loop, running every other callback between its checks; its price is up to
# MOST_WAIT_SECONDS of busy polling a batch, in moments the loop would
# otherwise sleep, and as much latency for the batch's texts. A lone text
# waits the gap (at least 0.1 ms).
ARRIVAL_GAP_SECONDS = 0.0001
MOST_WAIT_SECONDS = 0.001
# How long the writer, with nothing left to write, waits for more before it ends
# and hands its connection back. Under load the next items arrive within a few
# milliseconds, while the batch before is being answered: without this each
# batch took a connection (and its session machinery) anew.
LINGER_SECONDS = 0.1


class GroupCommit(Generic[ItemT, ResultT]):
    """``await submit(item)`` returns ``apply``'s result for it once its batch committed."""

    def __init__(
        self,
        database: Database,
        apply: Apply[ItemT, ResultT],
        *,
        most_per_batch: int = MOST_PER_BATCH,
    ) -> None:
        self.database = database
        self.apply = apply
        if most_per_batch < 1:
            raise ValueError("a batch holds at least one item")
        self.most_per_batch = most_per_batch
        self._waiting: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._writer: asyncio.Task[None] | None = None
        # While the writer lingers: resolved True by the next ``submit``.
        self._arrival: asyncio.Future[bool] | None = None
        self.batches = 0  # committed transactions, for tests and benchmarks

    async def submit(self, item: ItemT) -> ResultT:
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._arrival is not None:
            _settle(self._arrival, True)
        elif self._writer is None or self._writer.done():
            # Started on demand and gone when idle: no task outlives the work
            # by more than its linger.
            self._writer = asyncio.create_task(self._write())
        # A caller that goes away (client disconnected) cancels only its future:
        # its item stays queued and commits, and the writer skips resolving a
        # future that is done. (No shield: that is a second future and task
        # callbacks on every request, for the same outcome.)
        return await future

    async def _write(self) -> None:
        # The writer task was started inside one request, but its batches serve
        # many: no one request's id belongs on their audit rows.
        REQUEST_ID.set(None)
        structlog.contextvars.unbind_contextvars("request_id")
        batch: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        try:
            # Items that arrive while the writer hands its connection back (it has
            # not ended yet, so no new writer starts for them) are written here.
            while self._waiting:
                async with self.database.quick_writer() as writer:
                    while self._waiting or await self._arrives_within(LINGER_SECONDS):
                        await self._let_arrivals_in()
                        batch = self._waiting[: self.most_per_batch]
                        del self._waiting[: len(batch)]
                        await self._commit(writer, batch)
                        batch = []
        except BaseException:  # cancelled at shutdown: nobody may wait forever
            for _, future in batch + self._waiting:
                if not future.done():
                    future.set_exception(RuntimeError("the writer stopped before committing"))
            self._waiting.clear()
            raise

    async def _arrives_within(self, seconds: float) -> bool:
        """Whether an item arrives within ``seconds`` (``submit`` says so at once)."""
        loop = asyncio.get_running_loop()
        arrival: asyncio.Future[bool] = loop.create_future()
        self._arrival = arrival
        timer = loop.call_later(seconds, _settle, arrival, False)
        try:
            return await arrival
        finally:
            timer.cancel()
            self._arrival = None

    async def _let_arrivals_in(self) -> None:
        """Under load, more requests have already arrived or are on their way: the batch
        waits while each turn of the event loop brings some, or one was seen less than
        the gap ago, and at most ``MOST_WAIT_SECONDS`` (see above)."""
        # Real time, not the loop's clock: uvloop's ticks in whole milliseconds.
        started = last_arrival = time.perf_counter()
        waiting = len(self._waiting)
        while waiting < self.most_per_batch:
            await asyncio.sleep(0)
            now = time.perf_counter()
            if len(self._waiting) > waiting:
                waiting, last_arrival = len(self._waiting), now
            elif now - last_arrival >= ARRIVAL_GAP_SECONDS:
                return
            if now - started >= MOST_WAIT_SECONDS:
                return

    async def _commit(
        self, writer: QuickWriter, batch: Sequence[tuple[ItemT, asyncio.Future[ResultT]]]
    ) -> None:
        try:
            async with writer.transaction() as session:
                results = await self.apply(session, [item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError("apply must return one result per item")
        except Exception as error:
            if len(batch) > 1:
                log.warning("group commit failed; trying each item alone", items=len(batch))
                for one in batch:
                    await self._commit(writer, [one])
                return
            log.exception("group commit failed")
            _, future = batch[0]
            if not future.done():
                future.set_exception(error)
            return
        self.batches += 1
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)

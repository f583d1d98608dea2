"""The opt-out check right before each text leaves, coalesced across concurrent sends.

Every text asks the ledger once more just before it goes (a STOP answered
while it waited for its turn must win). Asked one by one, that is one
database round trip per text. Here the sends that ask while a query is
running wait for the next one, which asks for all of them at once — and
starts after each of them asked, so every answer is as fresh as a query of
its own would have been.

The checks are shared by the batches of a worker process (``ledger_checks``):
several batches send at once on its event loop, and their texts' checks go
in the same queries.

Each answer says when the query that gave it began: a message sent on that
answer was cleared at that moment (``Delivery.cleared_at``), before any
opt-out committed later.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from store.database import Database
from store.enums import Channel
from store.repositories.suppressions import SuppressionLedger

Key = tuple[Channel, str]


@dataclass(frozen=True, slots=True)
class LedgerAnswer:
    """Why the address must not get the message now (None: it may), as the ledger
    stood when the query began at ``asked_at``."""

    reason: str | None
    asked_at: datetime


class LedgerChecks:
    def __init__(
        self, database: Database, organisation_id: int, clock: Callable[[], datetime]
    ) -> None:
        self._database = database
        self._organisation_id = organisation_id
        self._clock = clock
        self._waiting: dict[Key, list[asyncio.Future[LedgerAnswer]]] = {}
        self._running: asyncio.Task[None] | None = None

    async def check(self, channel: Channel, address: str) -> LedgerAnswer:
        answer: asyncio.Future[LedgerAnswer] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((channel, address), []).append(answer)
        # A task cancelled before it ran never cleared the field: start another.
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._ask_while_waiting())
        return await answer

    async def _ask_while_waiting(self) -> None:
        asked: dict[Key, list[asyncio.Future[LedgerAnswer]]] = {}
        try:
            while self._waiting:
                asked, self._waiting = self._waiting, {}
                # Read before the query leaves, so the query's snapshot is no older.
                asked_at = self._clock()
                try:
                    async with self._database.glance() as session:
                        found = await SuppressionLedger(session).active_among(
                            self._organisation_id, asked
                        )
                except Exception as error:  # every caller hears of it, none hangs
                    _answer(asked, error=error)
                else:
                    _answer(asked, found=found, asked_at=asked_at)
        finally:
            self._running = None
            # Cancelled (the loop is closing): nobody may wait for ever.
            _answer(asked)
            _answer(self._waiting)
            self._waiting = {}


def _answer(
    asked: dict[Key, list[asyncio.Future[LedgerAnswer]]],
    *,
    found: dict[Key, str] | None = None,
    asked_at: datetime | None = None,
    error: Exception | None = None,
) -> None:
    """Settle every answer still open: the reason found, the error, or cancelled."""
    for key, answers in asked.items():
        for answer in answers:
            if answer.done():  # answered already, or its caller was cancelled
                continue
            if found is not None and asked_at is not None:
                answer.set_result(LedgerAnswer(found.get(key), asked_at))
            elif error is not None:
                answer.set_exception(error)
            else:
                answer.cancel()


_SHARED: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Database, dict[int, LedgerChecks]]
] = weakref.WeakKeyDictionary()


def ledger_checks(
    database: Database, organisation_id: int, clock: Callable[[], datetime]
) -> LedgerChecks:
    """The running event loop's checks of ``organisation_id``'s ledger (made on first use)."""
    per_database = _SHARED.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    per_organisation = per_database.setdefault(database, {})
    checks = per_organisation.get(organisation_id)
    if checks is None:
        checks = per_organisation[organisation_id] = LedgerChecks(database, organisation_id, clock)
    return checks

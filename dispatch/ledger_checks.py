"""The opt-out check right before each text leaves, coalesced across concurrent sends.

Every text asks the ledger once more just before it goes (a STOP answered
while it waited for its turn must win). Asked one by one, that is one
database round trip per text. Here the sends that ask while a query is
running wait for the next one, which asks for all of them at once — and
starts after each of them asked, so every answer is as fresh as a query of
its own would have been.
"""

from __future__ import annotations

import asyncio

from store.database import Database
from store.enums import Channel
from store.repositories.suppressions import SuppressionLedger

Key = tuple[Channel, str]


class LedgerChecks:
    def __init__(self, database: Database, organisation_id: int) -> None:
        self._database = database
        self._organisation_id = organisation_id
        self._waiting: dict[Key, list[asyncio.Future[str | None]]] = {}
        self._running: asyncio.Task[None] | None = None

    async def reason(self, channel: Channel, address: str) -> str | None:
        """Why this address must not get the message now, or None."""
        answer: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((channel, address), []).append(answer)
        if self._running is None:
            self._running = asyncio.create_task(self._ask_while_waiting())
        return await answer

    async def _ask_while_waiting(self) -> None:
        asked: dict[Key, list[asyncio.Future[str | None]]] = {}
        try:
            while self._waiting:
                asked, self._waiting = self._waiting, {}
                try:
                    async with self._database.glance() as session:
                        found = await SuppressionLedger(session).active_among(
                            self._organisation_id, asked
                        )
                except Exception as error:  # every caller hears of it, none hangs
                    _answer(asked, error=error)
                else:
                    _answer(asked, found=found)
        finally:
            self._running = None
            # Cancelled (the loop is closing): nobody may wait for ever.
            _answer(asked)
            _answer(self._waiting)
            self._waiting = {}


def _answer(
    asked: dict[Key, list[asyncio.Future[str | None]]],
    *,
    found: dict[Key, str] | None = None,
    error: Exception | None = None,
) -> None:
    """Settle every answer still open: the reason found, the error, or cancelled."""
    for key, answers in asked.items():
        for answer in answers:
            if answer.done():  # answered already, or its caller was cancelled
                continue
            if found is not None:
                answer.set_result(found.get(key))
            elif error is not None:
                answer.set_exception(error)
            else:
                answer.cancel()

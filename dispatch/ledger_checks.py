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
        try:
            while self._waiting:
                asked, self._waiting = self._waiting, {}
                try:
                    async with self._database.glance() as session:
                        found = await SuppressionLedger(session).active_among(
                            self._organisation_id, asked
                        )
                except Exception as error:  # every caller hears of it, none hangs
                    for answers in asked.values():
                        for answer in answers:
                            if not answer.done():
                                answer.set_exception(error)
                    continue
                for key, answers in asked.items():
                    for answer in answers:
                        if not answer.done():  # its caller may have been cancelled
                            answer.set_result(found.get(key))
        finally:
            self._running = None

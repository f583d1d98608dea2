"""A campaign's state as this worker process last read it, shared by its batches.

A batch stops between two messages when its campaign is paused or cancelled,
so it asks for the state as it sends. Asked per batch, that was one query a
second for every batch in flight; here the batches of one process share the
answer, and those that ask while a query runs wait for it instead of sending
their own. The answer is never older than ``max_age`` seconds, as before.
"""

from __future__ import annotations

import asyncio
import time
import weakref

from sqlalchemy import select

from store.database import Database
from store.enums import CampaignState
from store.models import Campaign


class CampaignStates:
    def __init__(self, database: Database, max_age: float = 1.0) -> None:
        self._database = database
        self._max_age = max_age
        self._known: dict[int, tuple[float, CampaignState | None]] = {}
        self._asking: dict[int, asyncio.Task[CampaignState | None]] = {}

    async def state(self, campaign_id: int) -> CampaignState | None:
        known = self._known.get(campaign_id)
        if known is not None and time.monotonic() - known[0] < self._max_age:
            return known[1]
        asking = self._asking.get(campaign_id)
        if asking is None:
            asking = asyncio.create_task(self._ask(campaign_id))
            self._asking[campaign_id] = asking
        # Shielded: one batch giving up must not cancel the others' answer.
        return await asyncio.shield(asking)

    async def _ask(self, campaign_id: int) -> CampaignState | None:
        asked_at = time.monotonic()  # the answer is as old as the moment we asked
        try:
            async with self._database.glance() as session:
                state = await session.scalar(
                    select(Campaign.state).where(Campaign.id == campaign_id)
                )
        finally:
            del self._asking[campaign_id]
        self._known[campaign_id] = (asked_at, state)
        return state


_STATES: weakref.WeakKeyDictionary[Database, CampaignStates] = weakref.WeakKeyDictionary()


def campaign_states(database: Database) -> CampaignStates:
    """This process's shared view for ``database`` (made on first use)."""
    states = _STATES.get(database)
    if states is None:
        states = _STATES[database] = CampaignStates(database)
    return states

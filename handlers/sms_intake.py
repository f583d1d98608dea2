"""Guests' texts as they arrive, committed in groups: each webhook's answer waits for
the transaction that holds its text, shared with the texts that came meanwhile.

An opt-out must be durable before its TwiML leaves, so every request waits
for a commit. One transaction per request made SQLite (one writer at a time)
the bottleneck: 32 requests in flight queued for 32 transactions of nine
statements each. Here the texts that arrive while a batch commits form the
next batch, acted on with a handful of set-based statements
(``act_on_replies``); ``GroupCommit`` holds the guarantees (answers only after
commit, never a partial batch, a failing text fails only itself).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.guest_replies import Arrival, ReplyOutcome, act_on_replies
from store.database import Database
from store.group_commit import GroupCommit
from store.models import Organisation
from store.repositories.inbound import ArrivedMessage, organisation_for_sms

# How long a number's organisation is remembered. Numbers move between
# organisations by an operator's hand, rarely; a few seconds of the old
# routing after such a move is the price of not asking on every text.
ROUTE_SECONDS = 5.0
# Routes are keyed by (To, MessagingServiceSid) of signed requests, so only
# Twilio's own numbers arrive; the bound is a backstop, not an eviction policy.
MOST_ROUTES = 1024


# Not frozen: one is built for each guest's reply on the webhooks' hot path, and a
# frozen dataclass's __init__ sets every field through object.__setattr__ (~4x slower).
@dataclass(slots=True)
class _Text:
    message: ArrivedMessage
    messaging_service_sid: str | None
    opt_out_type: str | None


class SmsIntake:
    """One per database (so per process): the group commit and the routing cache."""

    def __init__(self, database: Database) -> None:
        self.commits: GroupCommit[_Text, ReplyOutcome] = GroupCommit(database, self._apply)
        self._routes: dict[tuple[str, str | None], tuple[float, Organisation]] = {}

    async def act_on_text(
        self,
        message: ArrivedMessage,
        *,
        messaging_service_sid: str | None,
        opt_out_type: str | None,
    ) -> ReplyOutcome:
        """Record the text and act on it; returns once that is committed."""
        return await self.commits.submit(_Text(message, messaging_service_sid, opt_out_type))

    async def _apply(self, session: AsyncSession, texts: Sequence[_Text]) -> list[ReplyOutcome]:
        arrivals = [
            Arrival(
                text.message,
                await self._organisation(
                    session, text.message.to_address, text.messaging_service_sid
                ),
                text.opt_out_type,
            )
            for text in texts
        ]
        return await act_on_replies(session, arrivals)

    async def _organisation(
        self, session: AsyncSession, to_address: str, messaging_service_sid: str | None
    ) -> Organisation | None:
        key = (to_address, messaging_service_sid)
        now = time.monotonic()
        cached = self._routes.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        organisation = await organisation_for_sms(session, to_address, messaging_service_sid)
        # Only found ones: an organisation created a moment ago must be found at once.
        if organisation is not None:
            if len(self._routes) >= MOST_ROUTES:
                self._routes.clear()
            self._routes[key] = (now + ROUTE_SECONDS, organisation)
        return organisation


_INTAKES: weakref.WeakKeyDictionary[Database, SmsIntake] = weakref.WeakKeyDictionary()


def sms_intake(database: Database) -> SmsIntake:
    """The intake of this database (made on first use, gone with the database)."""
    intake = _INTAKES.get(database)
    if intake is None:
        intake = _INTAKES[database] = SmsIntake(database)
    return intake

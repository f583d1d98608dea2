"""A wedding with one guest, tokens for them, and row counts to prove what a request wrote."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select, update

from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from store.database import Database
from store.enums import Channel
from store.models import AuditEntry, Event, Guest, Organisation, Suppression
from tests.factories import make_wedding
from tests.web_harness import UNSUBSCRIBE_SECRET

EMAIL = "jane.doe@example.com"
MASKED_EMAIL = "j•••@example.com"
PHONE = "+14155554567"
MASKED_PHONE = "•••• •••• 4567"
SENDER_EMAIL = "hello@acme-weddings.example.com"
CAMPAIGN_ID = 7
MAX_AGE_DAYS = 400  # DispatchSettings' default, which app_settings keeps

TOKENS = UnsubscribeTokens([UNSUBSCRIBE_SECRET], MAX_AGE_DAYS)


@dataclass(frozen=True, slots=True)
class Seeded:
    organisation_id: int
    wedding_id: int
    guest_id: int

    def token(self, channel: Channel = Channel.EMAIL, tokens: UnsubscribeTokens = TOKENS) -> str:
        return tokens.issue(
            organisation_id=self.organisation_id,
            guest_id=self.guest_id,
            channel=channel,
            campaign_id=CAMPAIGN_ID,
        )


async def seed_guest(
    database: Database, *, email: str | None = EMAIL, phone: str | None = PHONE
) -> Seeded:
    organisation, wedding = await make_wedding(database)
    async with database.transaction() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id == organisation.id)
            .values(sender_name="Acme Weddings", sender_email=SENDER_EMAIL)
        )
        guest = Guest(wedding_id=wedding.id, name="Jane Doe", email=email, phone=phone)
        session.add(guest)
        await session.flush()
        guest_id = guest.id
    return Seeded(organisation.id, wedding.id, guest_id)


def expired_tokens() -> UnsubscribeTokens:
    """Tokens signed with the right key a day longer ago than links are honoured."""
    issued = time.time() - (MAX_AGE_DAYS + 1) * 86_400
    return UnsubscribeTokens([UNSUBSCRIBE_SECRET], MAX_AGE_DAYS, clock=lambda: issued)


async def row_counts(database: Database) -> dict[str, int]:
    async with database.reading() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Suppression, AuditEntry, Event)
        }


async def active_suppressions(database: Database) -> list[tuple[str, str, str, str]]:
    """(channel, address, reason, source) of every active entry."""
    async with database.reading() as session:
        rows = await session.execute(
            select(Suppression.channel, Suppression.address, Suppression.reason, Suppression.source)
            .where(Suppression.lifted_at.is_(None))
            .order_by(Suppression.channel)
        )
        return [(str(c), a or "", str(r), s) for c, a, r, s in rows]


async def events(database: Database) -> list[tuple[str, dict[str, object]]]:
    async with database.reading() as session:
        rows = await session.execute(select(Event.kind, Event.payload).order_by(Event.id))
        return [(kind, dict(payload)) for kind, payload in rows]

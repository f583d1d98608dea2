"""What the inbound benchmark reads back from the database: were the texts stored as sent?"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text

from bench.twilio_texts import ORGANISATION_NUMBER
from store.database import Database
from store.models import Guest


@dataclass(frozen=True, slots=True)
class Facts:
    suppressed: set[str]  # actively suppressed SMS numbers
    inbound: int  # inbound messages
    # provider message id → the RSVP status of the guest it came from
    rsvp_by_message: dict[str, str]


async def database_facts(database: Database) -> Facts:
    async with database.reading() as session:
        suppressed = set(
            (
                await session.scalars(
                    text(
                        "SELECT address FROM suppressions "
                        "WHERE channel = 'sms' AND lifted_at IS NULL"
                    )
                )
            ).all()
        )
        inbound = int(await session.scalar(text("SELECT count(*) FROM inbound_messages")) or 0)
        rows = await session.execute(
            text(
                "SELECT m.provider_message_id, g.rsvp_status FROM inbound_messages m "
                "JOIN guests g ON g.id = m.guest_id WHERE m.classification = 'rsvp'"
            )
        )
        return Facts(suppressed, inbound, {sid: str(status) for sid, status in rows.all()})


async def demo_guest_phones(database: Database) -> list[str]:
    """Demo guests' numbers that may opt out (not the organisation's own, not suppressed)."""
    facts = await database_facts(database)
    async with database.reading() as session:
        # Numbers are sealed at rest: read them in clear through the model, filter here.
        phones = await session.scalars(select(Guest.phone).where(Guest.phone.is_not(None)))
        demo = {p for p in phones if p is not None and p.startswith("+1201555")}
        return sorted(demo - facts.suppressed - {ORGANISATION_NUMBER})

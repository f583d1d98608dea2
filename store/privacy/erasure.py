"""Erasing a person: their guest rows go, and every message, reply and ledger entry
about them loses what names them — in one transaction.

What is kept, and why:

- Ledger entries stay in force, keyed by the hash of the address: an opt-out
  must hold if the address comes back in a later import. Only the hash is kept.
- Deliveries, replies and engagements stay as anonymous rows (no guest, no
  address, no text): campaigns' figures and rates must not change.
- The audit log is append-only and never held their personal data; the
  erasure adds its own rows, with counts and ids only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, Update, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import Actor, AuditRecord
from store.database import keyring_of
from store.enums import DeliveryStatus
from store.models import (
    ConsentRecord,
    Delivery,
    EmailEngagement,
    Guest,
    InboundMessage,
    SlackMessage,
    Suppression,
)
from store.privacy import holdings
from store.privacy.person import Person

# Their messages not yet sent are never sent: the skip reason says why.
ERASED = "guest_erased"
_NOT_YET_SENT = (DeliveryStatus.PENDING, DeliveryStatus.DEFERRED)


@dataclass(frozen=True, slots=True)
class Erasure:
    guests: int
    weddings: int
    consents: int
    deliveries: int
    cancelled_deliveries: int
    engagements: int
    inbound_messages: int
    slack_messages: int
    opt_outs_kept: int

    @property
    def nothing(self) -> bool:
        """Nothing was held (any more): an erasure asked for twice."""
        return not any(asdict(self).values())

    def lines(self) -> list[str]:
        """What was done, in words with no personal data (said in a channel)."""
        out = [
            f"Erased {_n(self.guests, 'guest row')} in {_n(self.weddings, 'wedding')}, "
            f"with {_n(self.consents, 'consent record')} and "
            f"{_n(self.slack_messages, 'Slack thread record')}.",
            "Kept as anonymous figures, with no guest, address or text: "
            f"{_n(self.deliveries, 'message')}, {_n(self.inbound_messages, 'reply', 'replies')} "
            f"and {_n(self.engagements, 'open or click', 'opens or clicks')}.",
        ]
        if self.cancelled_deliveries:
            out.append(f"{_n(self.cancelled_deliveries, 'message')} not sent yet will not be sent.")
        if self.opt_outs_kept:
            stays = "stays" if self.opt_outs_kept == 1 else "stay"
            out.append(
                f"{_n(self.opt_outs_kept, 'opt-out')} {stays} in force, kept only as a keyed "
                "hash of the address."
            )
        return out


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


async def erase_person(session: AsyncSession, actor: Actor, person: Person) -> Erasure:
    """Erase; call inside one write transaction, with ``person`` found in it."""
    organisation_id = person.organisation.id
    delivery_ids = list(
        await session.scalars(select(Delivery.id).where(holdings.deliveries(person)))
    )
    cancelled = await _count(
        session,
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids), Delivery.status.in_(_NOT_YET_SENT))
        .values(status=DeliveryStatus.SKIPPED, skip_reason=ERASED, not_before=None),
    )
    engagements = await _count(
        session,
        update(EmailEngagement)
        .where(EmailEngagement.delivery_id.in_(delivery_ids))
        .values(url=None, user_agent=""),
    )
    # Deliveries keep no guest and an empty address (the column is required); a
    # worker holding one of them finds no guest and skips it.
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids))
        .values(guest_id=None, address="", error_message=None)
        .execution_options(synchronize_session=False)
    )
    replies = await _count(
        session,
        update(InboundMessage)
        .where(holdings.inbound_messages(person))
        .values(guest_id=None, from_address="", body=""),
    )
    # Lifted entries (history) lose the address too; the active ones are what holds.
    cleared = await session.execute(
        update(Suppression)
        .where(holdings.suppressions(person, keyring_of(session)), Suppression.address.is_not(None))
        .values(address=None)
        .returning(Suppression.lifted_at)
        .execution_options(synchronize_session=False)
    )
    kept = sum(1 for (lifted_at,) in cleared if lifted_at is None)
    guest_ids = person.guest_ids
    consents = await _count(
        session, delete(ConsentRecord).where(ConsentRecord.guest_id.in_(guest_ids))
    )
    threads = await _count(session, delete(SlackMessage).where(holdings.slack_messages(person)))
    await _count(session, delete(Guest).where(Guest.id.in_(guest_ids)))
    erasure = Erasure(
        guests=len(guest_ids),
        weddings=len({wedding.id for _, wedding in person.guests}),
        consents=consents,
        deliveries=len(delivery_ids),
        cancelled_deliveries=cancelled,
        engagements=engagements,
        inbound_messages=replies,
        slack_messages=threads,
        opt_outs_kept=kept,
    )
    await audit.record(
        session,
        actor,
        [
            *(
                AuditRecord(
                    organisation_id,
                    "guest.erased",
                    "guest",
                    guest.id,
                    after={"wedding_id": wedding.id},
                )
                for guest, wedding in person.guests
            ),
            AuditRecord(
                organisation_id,
                "person.erased",
                "organisation",
                organisation_id,
                after={
                    "channel": person.asked_for[0].value,
                    "guest_ids": guest_ids,
                    **asdict(erasure),
                },
            ),
        ],
    )
    return erasure


async def _count(session: AsyncSession, statement: Update | Delete) -> int:
    """Run a bulk UPDATE or DELETE; how many rows it changed."""
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount

"""What a provider's refusal teaches the ledger: numbers and addresses that must not be used.

Used by the senders (errors at send time) and by the status webhooks (errors
reported later, such as Twilio's 30003/30005/30006).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.providers.twilio_sms import UNREACHABLE
from store.audit import Actor
from store.enums import Channel, SuppressionReason
from store.models import Campaign, Delivery
from store.repositories.suppressions import SuppressionLedger

UNREACHABLE_IN_A_ROW = 3


async def learn_from_failure(
    session: AsyncSession,
    actor: Actor,
    *,
    organisation_id: int,
    channel: Channel,
    address: str,
    code: str | None,
    suppress: SuppressionReason | None,
    source: str,
) -> bool:
    """Add the address to the ledger when the failure says so; True if it was added.

    Call after the failed delivery is recorded, so "three 30003s in a row"
    counts it.
    """
    unreachable = suppress is None and code == UNREACHABLE and channel == Channel.SMS
    if unreachable and await _unreachable_in_a_row(session, organisation_id, address):
        suppress = SuppressionReason.INVALID
    if suppress is None:
        return False
    return await SuppressionLedger(session).suppress(
        actor,
        organisation_id=organisation_id,
        channel=channel,
        address=address,
        reason=suppress,
        source=source,
        detail=f"provider error {code}" if code else None,
    )


async def _unreachable_in_a_row(session: AsyncSession, organisation_id: int, address: str) -> bool:
    codes = await session.scalars(
        select(Delivery.error_code)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Campaign.organisation_id == organisation_id,
            Delivery.channel == Channel.SMS,
            Delivery.address == address,
            Delivery.error_code.is_not(None) | Delivery.sent_at.is_not(None),
        )
        .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
        .limit(UNREACHABLE_IN_A_ROW)
    )
    latest = list(codes)
    return len(latest) == UNREACHABLE_IN_A_ROW and all(code == UNREACHABLE for code in latest)

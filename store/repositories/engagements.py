"""Recording what guests did with a tracked email (opens and clicks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import Channel
from store.models import Delivery, EmailEngagement

USER_AGENT_LENGTH = 256
# Beyond a BIGINT: no row, and PostgreSQL would refuse to compare it.
MAX_BIG_ID = 2**63 - 1


async def email_sent_at(session: AsyncSession, delivery_id: int) -> datetime | None:
    """When the email was handed to the provider; None for no such (sent) email, or one
    whose guest was erased (nobody's opens are counted)."""
    if not 1 <= delivery_id <= MAX_BIG_ID:
        return None
    return await session.scalar(
        select(Delivery.sent_at).where(
            Delivery.id == delivery_id,
            Delivery.channel == Channel.EMAIL,
            Delivery.guest_id.is_not(None),
        )
    )


async def record_engagement(
    session: AsyncSession,
    *,
    delivery_id: int,
    kind: str,
    url: str | None,
    user_agent: str,
    ignored_because: str | None,
    at: datetime,
) -> None:
    session.add(
        EmailEngagement(
            delivery_id=delivery_id,
            kind=kind,
            url=url,
            user_agent=user_agent[:USER_AGENT_LENGTH],
            ignored_because=ignored_because,
            created_at=at,
        )
    )

"""Guided conversations kept in the database, so a restarted bot continues each one
where it was: the thread it lives in, its step, the answers so far, its campaign."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Conversation
from store.models.base import utcnow


@dataclass
class Thread:
    """A conversation as the flow works with it, detached from any session."""

    id: int
    organisation_id: int
    channel_id: str
    thread_ts: str
    user_id: str
    flow: str
    step: str
    answers: dict[str, Any] = field(default_factory=dict)
    campaign_id: int | None = None

    @classmethod
    def of(cls, row: Conversation) -> Thread:
        return cls(
            id=row.id,
            organisation_id=row.organisation_id,
            channel_id=row.channel_id,
            thread_ts=row.thread_ts,
            user_id=row.user_id,
            flow=row.flow,
            step=row.step,
            answers=dict(row.answers or {}),
            campaign_id=row.campaign_id,
        )


async def start(
    session: AsyncSession,
    *,
    organisation_id: int,
    channel_id: str,
    thread_ts: str,
    user_id: str,
    flow: str,
    step: str,
    answers: dict[str, Any] | None = None,
    campaign_id: int | None = None,
) -> Thread:
    row = Conversation(
        organisation_id=organisation_id,
        channel_id=channel_id,
        thread_ts=thread_ts,
        user_id=user_id,
        flow=flow,
        step=step,
        answers=answers or {},
        campaign_id=campaign_id,
    )
    session.add(row)
    await session.flush()
    return Thread.of(row)


async def open_in(session: AsyncSession, channel_id: str, thread_ts: str) -> Thread | None:
    """The live conversation of this thread, if any."""
    row = await session.scalar(
        select(Conversation).where(
            Conversation.channel_id == channel_id,
            Conversation.thread_ts == thread_ts,
            Conversation.ended_at.is_(None),
        )
    )
    return Thread.of(row) if row is not None else None


async def of_campaign(session: AsyncSession, campaign_id: int) -> Thread | None:
    """The thread a campaign was made in (ended or not): where news of it goes."""
    row = await session.scalar(
        select(Conversation)
        .where(Conversation.campaign_id == campaign_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    return Thread.of(row) if row is not None else None


async def save(session: AsyncSession, thread: Thread, *, ended: bool = False) -> None:
    await session.execute(
        update(Conversation)
        .where(Conversation.id == thread.id)
        .values(
            step=thread.step,
            answers=dict(thread.answers),
            campaign_id=thread.campaign_id,
            ended_at=utcnow() if ended else None,
            updated_at=utcnow(),
        )
    )

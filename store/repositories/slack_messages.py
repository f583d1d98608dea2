"""The bot's messages that are found again: claimed before posting, edited when they change.

Posting is claim-first: a row with an empty ``ts`` is inserted (a partial
unique index allows one progress message per campaign and one thread per
guest), then the message is posted and its ``ts`` filled in. A process that
loses the insert leaves the posting to the winner; a claim whose process died
before posting is taken over once it is ``stale``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import SlackMessage

PROGRESS = "progress"
REPORT = "report"
GUEST_THREAD = "guest_thread"
OPT_OUT_REVIEW = "optout_review"
OPT_OUT_SUMMARY = "optout_summary"

# The purposes whose rows are unique per campaign / per guest (migration 0006).
_UNIQUE = {PROGRESS: "campaign_id", GUEST_THREAD: "guest_id"}


class SlackMessages:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(
        self, purpose: str, *, campaign_id: int | None = None, guest_id: int | None = None
    ) -> SlackMessage | None:
        query = select(SlackMessage).where(SlackMessage.purpose == purpose)
        if campaign_id is not None:
            query = query.where(SlackMessage.campaign_id == campaign_id)
        if guest_id is not None:
            query = query.where(SlackMessage.guest_id == guest_id)
        return await self.session.scalar(query.order_by(SlackMessage.id.desc()).limit(1))

    async def claim(
        self,
        organisation_id: int,
        purpose: str,
        channel_id: str,
        now: datetime,
        *,
        thread_ts: str | None = None,
        campaign_id: int | None = None,
        guest_id: int | None = None,
    ) -> int | None:
        """A row to post under (empty ts); None when another process holds it already."""
        values = {
            "organisation_id": organisation_id,
            "purpose": purpose,
            "campaign_id": campaign_id,
            "guest_id": guest_id,
            "channel_id": channel_id,
            "ts": "",
            "thread_ts": thread_ts,
            "created_at": now,
            "updated_at": now,
        }
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(SlackMessage).values(**values)
        if purpose in _UNIQUE:
            statement = statement.on_conflict_do_nothing(
                index_elements=[_UNIQUE[purpose]], index_where=text(f"purpose = '{purpose}'")
            )
        return await self.session.scalar(statement.returning(SlackMessage.id))

    async def take_over(self, message_id: int, stale_before: datetime, now: datetime) -> bool:
        """Claim a row whose poster died before posting (still empty since ``stale_before``)."""
        result = await self.session.execute(
            update(SlackMessage)
            .where(
                SlackMessage.id == message_id,
                SlackMessage.ts == "",
                SlackMessage.updated_at < stale_before,
            )
            .values(updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def posted(
        self,
        message_id: int,
        channel_id: str,
        ts: str,
        digest: str | None,
        now: datetime,
        *,
        closed: bool = False,
    ) -> None:
        await self.session.execute(
            update(SlackMessage)
            .where(SlackMessage.id == message_id)
            .values(
                channel_id=channel_id,
                ts=ts,
                digest=digest,
                updated_at=now,
                closed_at=now if closed else None,
            )
        )

    async def unclaim(self, message_id: int) -> None:
        """Posting failed: drop the empty row so that the next pass may try again."""
        await self.session.execute(
            delete(SlackMessage).where(SlackMessage.id == message_id, SlackMessage.ts == "")
        )

    async def claim_edit(self, message_id: int, edited_before: datetime, now: datetime) -> bool:
        """The right to edit the message now: only if nobody did since ``edited_before``.

        Keeps edits of one message at most one per interval across processes
        (``chat.update`` is rate-limited, and a planner reads it, not a ticker).
        """
        result = await self.session.execute(
            update(SlackMessage)
            .where(
                SlackMessage.id == message_id,
                SlackMessage.ts != "",
                SlackMessage.updated_at <= edited_before,
            )
            .values(updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def edited(self, message_id: int, digest: str, now: datetime, *, closed: bool) -> None:
        await self.session.execute(
            update(SlackMessage)
            .where(SlackMessage.id == message_id)
            .values(digest=digest, closed_at=now if closed else None, updated_at=now)
        )

    async def close(self, message_id: int, user_id: str, now: datetime) -> bool:
        """Mark a card dealt with by ``user_id``; False if someone already had."""
        result = await self.session.execute(
            update(SlackMessage)
            .where(SlackMessage.id == message_id, SlackMessage.closed_at.is_(None))
            .values(closed_at=now, closed_by=user_id, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def open_progress_campaigns(self) -> list[int]:
        """Campaigns whose progress message does not show final figures yet."""
        rows = await self.session.scalars(
            select(SlackMessage.campaign_id).where(
                SlackMessage.purpose == PROGRESS,
                SlackMessage.closed_at.is_(None),
                SlackMessage.ts != "",
            )
        )
        return [campaign_id for campaign_id in rows if campaign_id is not None]

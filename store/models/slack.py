"""What the Slack bot keeps: events already handled, conversations in progress, and
the messages it updates in place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, BigId, JsonDocument, UtcDateTime, utcnow


class SlackEventReceipt(Base):
    """Slack re-sends an event it thinks we missed (X-Slack-Retry-Num): one effect each."""

    __tablename__ = "slack_event_receipts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Conversation(Base):
    """A guided conversation in a Slack thread; stored so a restart continues it."""

    __tablename__ = "slack_conversations"
    __table_args__ = (UniqueConstraint("channel_id", "thread_ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    # The Slack user who started it: only their answers move it on.
    user_id: Mapped[str] = mapped_column(String(32))
    flow: Mapped[str] = mapped_column(String(32))  # campaign_new
    step: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class SlackMessage(Base):
    """A bot message that is found again later: a campaign's progress message, an
    approval card, the thread of a guest's replies."""

    __tablename__ = "slack_messages"
    __table_args__ = (
        Index("ix_slack_messages_campaign_id_purpose", "campaign_id", "purpose"),
        Index("ix_slack_messages_guest_id_purpose", "guest_id", "purpose"),
        # One progress message per campaign and one thread per guest, even when two
        # web processes race to post them: the loser's insert fails.
        Index(
            "uq_slack_messages_progress",
            "campaign_id",
            unique=True,
            sqlite_where=text("purpose = 'progress'"),
            postgresql_where=text("purpose = 'progress'"),
        ),
        Index(
            "uq_slack_messages_guest_thread",
            "guest_id",
            unique=True,
            sqlite_where=text("purpose = 'guest_thread'"),
            postgresql_where=text("purpose = 'guest_thread'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))  # progress, approval, guest_thread
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    guest_id: Mapped[int | None] = mapped_column(ForeignKey("guests.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    # Empty while the message is being posted (the row is claimed first).
    ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    # A hash of what the message shows now: it is edited only when that changes.
    digest: Mapped[str | None] = mapped_column(String(64))
    # Closed: a progress message showing final figures, a review card dealt with,
    # a report whose Retry was pressed; closed_by is the Slack user who did it.
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

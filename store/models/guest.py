"""Guests of a wedding, the groups they belong to, and their consent history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.enums import Channel, RsvpStatus
from store.models.base import Base, JsonDocument, UtcDateTime, enum_type, utcnow


class Guest(Base):
    __tablename__ = "guests"
    # One guest per address within a wedding: imports upsert on these. NULLs
    # never collide, so guests with only a phone or only an email coexist.
    __table_args__ = (
        UniqueConstraint("wedding_id", "email"),
        UniqueConstraint("wedding_id", "phone"),
        Index("ix_guests_wedding_id_rsvp_status", "wedding_id", "rsvp_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wedding_id: Mapped[int] = mapped_column(ForeignKey("weddings.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))  # normalised by email-validator
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    rsvp_status: Mapped[RsvpStatus] = mapped_column(
        enum_type(RsvpStatus), default=RsvpStatus.PENDING
    )
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    dietary_requirements: Mapped[str | None] = mapped_column(Text)
    plus_one: Mapped[bool] = mapped_column(Boolean, default=False)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    preferred_channel: Mapped[Channel | None] = mapped_column(enum_type(Channel))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class GuestGroup(Base):
    """A guest's membership of a named group ("family", "bridal party"), lower-cased."""

    __tablename__ = "guest_groups"

    guest_id: Mapped[int] = mapped_column(
        ForeignKey("guests.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)


class ConsentRecord(Base):
    """Evidence that a guest agreed (or withdrew agreement) to messages on a channel."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_guest_id_channel", "guest_id", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    guest_id: Mapped[int | None] = mapped_column(ForeignKey("guests.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    granted: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(64))  # import, slack, sms_reply, web_form
    text_shown: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

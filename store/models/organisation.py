"""Organisations (wedding businesses) and their members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from store.enums import Role, Tier
from store.models.base import Base, UtcDateTime, enum_type, utcnow


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[Tier] = mapped_column(enum_type(Tier), default=Tier.FREE)
    # CAN-SPAM: every commercial email carries a valid physical postal address.
    postal_address: Mapped[str] = mapped_column(Text, default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    sender_email: Mapped[str] = mapped_column(String(320), default="")
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    # ISO 3166-1 alpha-2 region used to read phone numbers written without +CC.
    default_country: Mapped[str] = mapped_column(String(2), default="US")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(16), default="en_US")
    slack_team_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    # Where guests' texts arrive: the number or Twilio Messaging Service of
    # this organisation (inbound texts are routed by them).
    sms_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    messaging_service_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Open and click tracking of emails: off unless an admin turns it on
    # (guests are not watched by default).
    email_tracking: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("organisation_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[Role] = mapped_column(enum_type(Role), default=Role.VIEWER)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

"""Weddings: the event a campaign is about and whose details fill the templates."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Date, ForeignKey, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, UtcDateTime, utcnow


class Wedding(Base):
    __tablename__ = "weddings"
    __table_args__ = (UniqueConstraint("organisation_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    couple_names: Mapped[str] = mapped_column(String(200))
    wedding_date: Mapped[date] = mapped_column(Date)
    # Wall-clock times and dates are local to the wedding's own time zone.
    ceremony_time: Mapped[time | None] = mapped_column(Time)
    venue_name: Mapped[str] = mapped_column(String(200), default="")
    venue_address: Mapped[str | None] = mapped_column(Text)
    reception_venue: Mapped[str | None] = mapped_column(String(200))
    rsvp_deadline: Mapped[date | None] = mapped_column(Date)
    rsvp_link: Mapped[str | None] = mapped_column(String(500))
    parking_instructions: Mapped[str | None] = mapped_column(Text)
    hashtag: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str | None] = mapped_column(String(16))
    slack_channel_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

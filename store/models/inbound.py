"""Messages guests sent us: SMS replies and email replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.enums import Channel, InboundClass
from store.models.base import Base, UtcDateTime, enum_type, utcnow


class InboundMessage(Base):
    __tablename__ = "inbound_messages"
    # Providers retry webhooks; the provider's own id makes a retry a no-op.
    __table_args__ = (UniqueConstraint("provider", "provider_message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL when the message reached no known organisation (still recorded).
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    guest_id: Mapped[int | None] = mapped_column(
        ForeignKey("guests.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    from_address: Mapped[str] = mapped_column(String(320))
    to_address: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text, default="")
    classification: Mapped[InboundClass | None] = mapped_column(enum_type(InboundClass))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

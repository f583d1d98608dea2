"""What guests did with an email: opened it (the tracking image loaded) or followed a link.

Only for organisations that turned tracking on. Every request is kept, with
whether it counts: link scanners and mail-security gateways fetch images and
follow links too, and rates must not be made of them. No IP address is kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, BigId, UtcDateTime, utcnow


class EmailEngagement(Base):
    __tablename__ = "email_engagements"
    __table_args__ = (Index("ix_email_engagements_delivery_id_kind", "delivery_id", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("deliveries.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "open" or "click"
    url: Mapped[str | None] = mapped_column(Text)  # the link followed (clicks)
    # Why it does not count ("scanner", "too_soon"); None: it counts.
    ignored_because: Mapped[str | None] = mapped_column(String(32))
    user_agent: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

"""The suppression ledger: addresses that must not be messaged by an organisation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from store.enums import Channel, SuppressionReason
from store.models.base import Base, UtcDateTime, enum_type, utcnow


class Suppression(Base):
    """One entry of the ledger; active while ``lifted_at`` is NULL.

    Entries are never deleted: a guest's START lifts their own STOP by
    setting ``lifted_at``, so the history of who asked what stays provable.
    Every check matches on ``address_hash``, a keyed hash of the normalised
    address (``Keyring.index``): erasing a guest clears ``address`` but keeps
    the hash, so their opt-out still holds if the address comes back.
    """

    __tablename__ = "suppressions"
    __table_args__ = (
        Index(
            "ix_suppressions_organisation_id_channel_address",
            "organisation_id",
            "channel",
            "address",
        ),
        # At most one active entry per address: opting out twice is one opt-out.
        # Also the index of every suppression check.
        Index(
            "uq_suppressions_active_address_hash",
            "organisation_id",
            "channel",
            "address_hash",
            unique=True,
            sqlite_where=text("lifted_at IS NULL"),
            postgresql_where=text("lifted_at IS NULL"),
        ),
        # Lifted entries by address (an address's history, a person's data): few,
        # so inserting an opt-out touches no index of these (not a full index on
        # the hash, a random key each time). ``entries_for`` reads both sides.
        Index(
            "ix_suppressions_lifted_address_hash",
            "organisation_id",
            "channel",
            "address_hash",
            sqlite_where=text("lifted_at IS NOT NULL"),
            postgresql_where=text("lifted_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    # E.164 or normalised email; NULL once the guest was erased.
    address: Mapped[str | None] = mapped_column(String(320))
    address_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[SuppressionReason] = mapped_column(enum_type(SuppressionReason))
    source: Mapped[str] = mapped_column(String(64))  # twilio_reply, unsubscribe_link, import, …
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lifted_source: Mapped[str | None] = mapped_column(String(64))

"""Guests of a wedding, the groups they belong to, and their consent history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, validates

from store.enums import Channel, RsvpStatus
from store.models.base import Base, JsonDocument, UtcDateTime, enum_type, utcnow
from store.models.sealed import BlindIndex, SealedText

# The guest's fields found by equality (imports upsert on them, replies are
# matched by them): each has a blind index column beside it, ``<field>_index``.
INDEXED_FIELDS = ("email", "phone")


def _index_of(field: str) -> Callable[[DefaultExecutionContext], str | None]:
    """An insert that gives an address but not its index (any insert: ORM, bulk or Core)
    gets the index from the address; an update must set both (``with_indexes``)."""

    def index(context: DefaultExecutionContext) -> str | None:
        # (SQLAlchemy leaves this method unannotated.)
        parameters: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
        value: str | None = parameters.get(field)
        return value  # the clear address: BlindIndex turns it into the index

    return index


class Guest(Base):
    __tablename__ = "guests"
    # One guest per address within a wedding: imports upsert on these. NULLs
    # never collide, so guests with only a phone or only an email coexist. The
    # addresses themselves are encrypted with a fresh nonce each time, so the
    # constraints (and every lookup) use their blind indexes.
    __table_args__ = (
        UniqueConstraint("wedding_id", "email_index"),
        UniqueConstraint("wedding_id", "phone_index"),
        Index("ix_guests_wedding_id_rsvp_status", "wedding_id", "rsvp_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wedding_id: Mapped[int] = mapped_column(ForeignKey("weddings.id", ondelete="CASCADE"))
    # Personal data is sealed at rest (store/models/sealed.py); at most 200
    # characters of name, checked where guests are read in.
    name: Mapped[str] = mapped_column(SealedText)
    email: Mapped[str | None] = mapped_column(SealedText)  # normalised by email-validator
    phone: Mapped[str | None] = mapped_column(SealedText)  # E.164
    email_index: Mapped[str | None] = mapped_column(BlindIndex("email"), default=_index_of("email"))
    phone_index: Mapped[str | None] = mapped_column(BlindIndex("phone"), default=_index_of("phone"))
    rsvp_status: Mapped[RsvpStatus] = mapped_column(
        enum_type(RsvpStatus), default=RsvpStatus.PENDING
    )
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    dietary_requirements: Mapped[str | None] = mapped_column(SealedText)
    plus_one: Mapped[bool] = mapped_column(Boolean, default=False)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    preferred_channel: Mapped[Channel | None] = mapped_column(enum_type(Channel))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    @validates(*INDEXED_FIELDS)
    def _keep_index(self, field: str, value: str | None) -> str | None:
        """An object's address and its index change together (the index column takes
        the clear value and stores its hash)."""
        setattr(self, f"{field}_index", value)
        return value


def with_indexes(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` for a bulk or Core statement on guests, with the blind index of each
    address it sets: such statements bypass the ORM's validators."""
    indexes = {f"{field}_index": values[field] for field in INDEXED_FIELDS if field in values}
    return {**values, **indexes}


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

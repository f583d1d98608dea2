"""Campaigns and the one delivery row per (campaign, guest, channel) they become."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.enums import CampaignState, Channel, DeliveryStatus
from store.models.base import Base, BigId, JsonDocument, UtcDateTime, enum_type, utcnow


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_organisation_id_state", "organisation_id", "state"),
        Index("ix_campaigns_state_scheduled_at", "state", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    wedding_id: Mapped[int] = mapped_column(
        ForeignKey("weddings.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[CampaignState] = mapped_column(
        enum_type(CampaignState), default=CampaignState.DRAFT
    )
    channels: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    audience: Mapped[str] = mapped_column(Text, default="")  # a segment expression
    template_key: Mapped[str | None] = mapped_column(String(64))
    email_subject: Mapped[str | None] = mapped_column(Text)
    email_text: Mapped[str | None] = mapped_column(Text)
    email_html: Mapped[str | None] = mapped_column(Text)
    sms_text: Mapped[str | None] = mapped_column(Text)
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Day-of logistics ("the shuttle leaves at 3") may go out in quiet hours.
    day_of_logistics: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    approved_by_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    # Approval is bound to a hash of the content; any edit voids it.
    approval_hash: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    throttled_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    suppressed_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    deferred_count: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    # Soft deletion: a deleted campaign is left out of every list, figure and
    # command but restore (store/repositories/campaign_deletion.py); its
    # deliveries stay as they were.
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "guest_id", "channel"),
        Index("ix_deliveries_campaign_id_status", "campaign_id", "status"),
        Index("ix_deliveries_status_lease_expires_at", "status", "lease_expires_at"),
        Index("ix_deliveries_provider_message_id", "provider_message_id"),
        # A guest's reply is matched to what we last sent to that address.
        Index("ix_deliveries_address", "address"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    guest_id: Mapped[int | None] = mapped_column(ForeignKey("guests.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    # The address as it was when the delivery was created: suppression is
    # re-checked against it at claim time, and the reconciler asks the
    # provider about it.
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    skip_reason: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the opt-out ledger cleared this message to go: the start of the
    # check made right before it left. A STOP that committed earlier would
    # have held it back, so this is the evidence that nobody was messaged
    # after their opt-out was final. Empty for a message the reconciler found
    # at the provider after its worker died.
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class EarlyDeliveryReport(Base):
    """A provider's report about a message we have not recorded as sent yet.

    Twilio may call back within milliseconds of accepting a text, while the
    worker that sent it still holds its result in a batch not yet committed.
    Such a report is kept here and applied by the scheduler's tick once the
    send is recorded, instead of being lost (the message would stay "sent"
    for ever, and the delivery rate would read low).
    """

    __tablename__ = "early_delivery_reports"
    __table_args__ = (
        Index("ix_early_delivery_reports_message", "provider", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[DeliveryStatus] = mapped_column(enum_type(DeliveryStatus))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

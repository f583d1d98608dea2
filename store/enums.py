"""The closed vocabularies of the data model.

Stored as their string values (``native_enum=False``) so that PostgreSQL and
SQLite hold the same text and adding a member needs no ``ALTER TYPE``.
"""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    FREE = "free"
    STARTER = "starter"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    PLANNER = "planner"
    APPROVER = "approver"
    VIEWER = "viewer"


class RsvpStatus(StrEnum):
    CONFIRMED = "confirmed"
    PENDING = "pending"
    DECLINED = "declined"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class CampaignState(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DEFERRED = "deferred"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    SUPPRESSED = "suppressed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class SuppressionReason(StrEnum):
    STOP = "stop"
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    MANUAL = "manual"
    INVALID = "invalid"
    ERASED = "erased"


class InboundClass(StrEnum):
    OPT_OUT = "opt_out"
    LIKELY_OPT_OUT = "likely_opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    RSVP = "rsvp"
    OTHER = "other"

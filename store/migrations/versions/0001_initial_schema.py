"""Initial schema: organisations, weddings, guests, campaigns, deliveries, ledger, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types as the models declare them, spelled out here so that this
# migration stays as it is when the models move on.
ID = sa.Integer()
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WORD = sa.String(32)  # enum values


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, primary_key=True)


def _fk(
    column: str, target: str, *, nullable: bool = False, ondelete: str = "CASCADE"
) -> sa.Column[int]:
    return sa.Column(
        column, ID, sa.ForeignKey(f"{target}.id", ondelete=ondelete), nullable=nullable
    )


def _created() -> sa.Column[datetime]:
    return sa.Column("created_at", TIME, nullable=False)


def _updated() -> sa.Column[datetime]:
    return sa.Column("updated_at", TIME, nullable=False)


def upgrade() -> None:
    op.create_table(
        "organisations",
        _id(),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", WORD, nullable=False),
        sa.Column("postal_address", sa.Text(), nullable=False),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("sender_email", sa.String(320), nullable=False),
        sa.Column("contact_email", sa.String(320)),
        sa.Column("contact_phone", sa.String(32)),
        sa.Column("default_country", sa.String(2), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("slack_team_id", sa.String(32), unique=True),
        _created(),
    )
    op.create_table(
        "members",
        _id(),
        _fk("organisation_id", "organisations"),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(32)),
        sa.Column("role", WORD, nullable=False),
        _created(),
        sa.UniqueConstraint("organisation_id", "slack_user_id"),
    )
    op.create_table(
        "weddings",
        _id(),
        _fk("organisation_id", "organisations"),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("couple_names", sa.String(200), nullable=False),
        sa.Column("wedding_date", sa.Date(), nullable=False),
        sa.Column("ceremony_time", sa.Time()),
        sa.Column("venue_name", sa.String(200), nullable=False),
        sa.Column("venue_address", sa.Text()),
        sa.Column("reception_venue", sa.String(200)),
        sa.Column("rsvp_deadline", sa.Date()),
        sa.Column("rsvp_link", sa.String(500)),
        sa.Column("parking_instructions", sa.Text()),
        sa.Column("hashtag", sa.String(100)),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(16)),
        sa.Column("slack_channel_id", sa.String(32)),
        _created(),
        sa.UniqueConstraint("organisation_id", "slug"),
    )
    op.create_table(
        "guests",
        _id(),
        _fk("wedding_id", "weddings"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(32)),
        sa.Column("rsvp_status", WORD, nullable=False),
        sa.Column("party_size", sa.Integer(), nullable=False),
        sa.Column("dietary_requirements", sa.Text()),
        sa.Column("plus_one", sa.Boolean(), nullable=False),
        sa.Column("custom_fields", JSON, nullable=False),
        sa.Column("preferred_channel", WORD),
        sa.Column("timezone", sa.String(64)),
        _created(),
        _updated(),
        sa.UniqueConstraint("wedding_id", "email"),
        sa.UniqueConstraint("wedding_id", "phone"),
    )
    op.create_index("ix_guests_wedding_id_rsvp_status", "guests", ["wedding_id", "rsvp_status"])
    op.create_table(
        "guest_groups",
        sa.Column(
            "guest_id",
            ID,
            sa.ForeignKey("guests.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(100), primary_key=True),
    )
    op.create_table(
        "consent_records",
        _id(),
        _fk("organisation_id", "organisations"),
        _fk("guest_id", "guests", nullable=True, ondelete="SET NULL"),
        sa.Column("channel", WORD, nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("text_shown", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        _created(),
    )
    op.create_index("ix_consent_records_organisation_id", "consent_records", ["organisation_id"])
    op.create_index(
        "ix_consent_records_guest_id_channel", "consent_records", ["guest_id", "channel"]
    )
    op.create_table(
        "suppressions",
        _id(),
        _fk("organisation_id", "organisations"),
        sa.Column("channel", WORD, nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("reason", WORD, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text()),
        _created(),
        sa.Column("lifted_at", TIME),
        sa.Column("lifted_source", sa.String(64)),
    )
    op.create_index(
        "ix_suppressions_organisation_id_channel_address",
        "suppressions",
        ["organisation_id", "channel", "address"],
    )
    op.create_index(
        "uq_suppressions_active_address",
        "suppressions",
        ["organisation_id", "channel", "address"],
        unique=True,
        sqlite_where=sa.text("lifted_at IS NULL"),
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    op.create_table(
        "campaigns",
        _id(),
        _fk("organisation_id", "organisations"),
        _fk("wedding_id", "weddings"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", WORD, nullable=False),
        sa.Column("channels", JSON, nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("template_key", sa.String(64)),
        sa.Column("email_subject", sa.Text()),
        sa.Column("email_text", sa.Text()),
        sa.Column("email_html", sa.Text()),
        sa.Column("sms_text", sa.Text()),
        sa.Column("scheduled_at", TIME),
        sa.Column("day_of_logistics", sa.Boolean(), nullable=False),
        sa.Column("allow_fallback", sa.Boolean(), nullable=False),
        _fk("created_by_member_id", "members", nullable=True, ondelete="SET NULL"),
        _fk("approved_by_member_id", "members", nullable=True, ondelete="SET NULL"),
        sa.Column("approval_hash", sa.String(64)),
        sa.Column("approved_at", TIME),
        sa.Column("rejection_reason", sa.Text()),
        sa.Column("throttled_until", TIME),
        *(
            sa.Column(f"{count}_count", sa.Integer(), nullable=False)
            for count in ("sent", "failed", "suppressed", "skipped", "deferred")
        ),
        sa.Column("started_at", TIME),
        sa.Column("completed_at", TIME),
        _created(),
        _updated(),
    )
    op.create_index("ix_campaigns_wedding_id", "campaigns", ["wedding_id"])
    op.create_index("ix_campaigns_organisation_id_state", "campaigns", ["organisation_id", "state"])
    op.create_index("ix_campaigns_state_scheduled_at", "campaigns", ["state", "scheduled_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", BIG_ID, primary_key=True),
        _fk("campaign_id", "campaigns"),
        _fk("guest_id", "guests", nullable=True, ondelete="SET NULL"),
        sa.Column("channel", WORD, nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("status", WORD, nullable=False),
        sa.Column("skip_reason", sa.String(64)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", TIME),
        sa.Column("not_before", TIME),
        sa.Column("provider", sa.String(32)),
        sa.Column("provider_message_id", sa.String(128)),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_message", sa.Text()),
        sa.Column("sent_at", TIME),
        sa.Column("delivered_at", TIME),
        _created(),
        _updated(),
        sa.UniqueConstraint("campaign_id", "guest_id", "channel"),
    )
    op.create_index("ix_deliveries_campaign_id_status", "deliveries", ["campaign_id", "status"])
    op.create_index(
        "ix_deliveries_status_lease_expires_at", "deliveries", ["status", "lease_expires_at"]
    )
    op.create_index("ix_deliveries_provider_message_id", "deliveries", ["provider_message_id"])
    op.create_table(
        "inbound_messages",
        _id(),
        _fk("organisation_id", "organisations", nullable=True),
        _fk("guest_id", "guests", nullable=True, ondelete="SET NULL"),
        sa.Column("channel", WORD, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("from_address", sa.String(320), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("classification", WORD),
        sa.Column("received_at", TIME, nullable=False),
        sa.UniqueConstraint("provider", "provider_message_id"),
    )
    op.create_index("ix_inbound_messages_organisation_id", "inbound_messages", ["organisation_id"])
    op.create_index("ix_inbound_messages_guest_id", "inbound_messages", ["guest_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, primary_key=True),
        _fk("organisation_id", "organisations", nullable=True, ondelete="SET NULL"),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("before", JSON),
        sa.Column("after", JSON),
        sa.Column("request_id", sa.String(64)),
        _created(),
    )
    op.create_index("ix_audit_log_entity_type_entity_id", "audit_log", ["entity_type", "entity_id"])
    op.create_index(
        "ix_audit_log_organisation_id_created_at", "audit_log", ["organisation_id", "created_at"]
    )


def downgrade() -> None:
    for table in (
        "audit_log",
        "inbound_messages",
        "deliveries",
        "campaigns",
        "suppressions",
        "consent_records",
        "guest_groups",
        "guests",
        "weddings",
        "members",
        "organisations",
    ):
        op.drop_table(table)

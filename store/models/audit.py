"""The audit log: who changed what, when, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, BigId, JsonDocument, UtcDateTime, utcnow


class AuditEntry(Base):
    """Append-only: the repository API offers no update or delete, and the database
    refuses both (triggers of migration 0017, on PostgreSQL and SQLite)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity_type_entity_id", "entity_type", "entity_id"),
        Index("ix_audit_log_organisation_id_created_at", "organisation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # A plain column, not a foreign key: a key's ON DELETE SET NULL would be an
    # UPDATE of the log, which the append-only trigger refuses (so deleting an
    # organisation would fail), and RESTRICT would make every organisation
    # undeletable. The log is history: it keeps saying which organisation a
    # row was about after that organisation is gone, as entity_id does.
    organisation_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))  # "slack:U123", "cli", "system", …
    action: Mapped[str] = mapped_column(String(64))  # "campaign.approved", "guest.created", …
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

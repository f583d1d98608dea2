"""Online backups of the database and restoring them (``guestcomms backup`` / ``restore``).

SQLite uses SQLite's own backup API (a consistent snapshot even while the
app writes, because WAL readers do not block writers); PostgreSQL uses
``pg_dump`` in its custom format and ``pg_restore``. A restore never
overwrites a database that holds data unless it is forced, and refuses a
backup made by a newer guestcomms than this one (its schema is unknown here).
"""

from __future__ import annotations

from store.backups.errors import BackupError, BackupRefused, ToolMissing
from store.backups.run import BackupReport, RestoreReport, backup, restore

__all__ = [
    "BackupError",
    "BackupRefused",
    "BackupReport",
    "RestoreReport",
    "ToolMissing",
    "backup",
    "restore",
]

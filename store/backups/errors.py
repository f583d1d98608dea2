"""Why a backup or a restore did not happen; each message says what to do."""

from __future__ import annotations

from store.errors import StoreError


class BackupError(StoreError):
    """A backup or restore failed; nothing was changed."""


class BackupRefused(BackupError):
    """Refused on purpose: the target holds data, the file is not a backup, and so on."""


class ToolMissing(BackupError):
    """pg_dump or pg_restore is not installed, or is older than the server."""

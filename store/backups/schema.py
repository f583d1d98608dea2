"""Whether this guestcomms knows the schema a backup was made with."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from alembic.util import CommandError

from store.backups.errors import BackupRefused
from store.migrate import alembic_config


def check_revision(revision: str, what: str) -> None:
    """Refuse a backup whose schema revision this code's migrations do not know.

    An older revision is fine (``migrate`` brings it up to date after the
    restore); an unknown one comes from a newer guestcomms, whose tables this
    code would misread.
    """
    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        known = scripts.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupRefused(
            f"{what} was made by a newer guestcomms (schema revision {revision}; this one "
            f"knows up to {scripts.get_current_head()}): upgrade guestcomms, then restore it"
        )

"""``guestcomms backup PATH`` and ``guestcomms restore PATH [--force]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.settings import Settings
from store.backups import BackupError, BackupRefused, backup, restore
from store.database import Database
from store.migrate import migrate

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2


async def backup_command(args: argparse.Namespace, settings: Settings) -> int:
    where = _describe(settings)
    try:
        report = await backup(settings.store.database_url, Path(args.path))
    except BackupRefused as refused:
        print(f"No backup made: {_sentence(refused)}", file=sys.stderr)
        return EXIT_REFUSED
    except BackupError as error:
        print(f"No backup made of {where}: {_sentence(error)}", file=sys.stderr)
        return EXIT_FAILED
    data = {name: n for name, n in report.rows.items() if name != "alembic_version"}
    rows = f"; {sum(data.values()):,} rows in {len(data)} tables" if data else ""
    print(f"Backed up {where} to {report.path} ({report.kind}, {_size(report.bytes)}{rows}).")
    return EXIT_OK


async def restore_command(args: argparse.Namespace, settings: Settings) -> int:
    where = _describe(settings)
    try:
        report = await restore(settings.store.database_url, Path(args.path), force=args.force)
    except BackupRefused as refused:
        print(f"Nothing restored: {_sentence(refused)}", file=sys.stderr)
        return EXIT_REFUSED
    except BackupError as error:
        print(f"Nothing restored into {where}: {_sentence(error)}", file=sys.stderr)
        return EXIT_FAILED
    database = Database(settings.store)
    try:
        # A backup from an older guestcomms is brought up to this one's schema.
        await migrate(database)
    finally:
        await database.dispose()
    data = {name: n for name, n in report.rows.items() if name != "alembic_version"}
    print(
        f"Restored {args.path} into {where}: {sum(data.values()):,} rows in {len(data)} "
        f"tables (schema revision {report.revision}, now up to date)."
    )
    return EXIT_OK


def _describe(settings: Settings) -> str:
    try:
        return make_url(settings.store.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "DATABASE_URL (not a database URL)"


def _sentence(error: Exception) -> str:
    # After "Nothing restored: ", lower case; file names keep their own case.
    text = str(error)
    return text + ("" if text.endswith(".") else ".")


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    size = count / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"

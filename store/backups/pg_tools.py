"""PostgreSQL: ``pg_dump --format=custom`` makes the backup, ``pg_restore`` restores it.

Both must be at least the server's major version (pg_dump refuses a newer
server). Debian keeps each installed version's tools in
``/usr/lib/postgresql/N/bin``; the server's own version is preferred, then
whatever ``PATH`` offers. The connection goes through libpq's environment
variables, so the password never appears on a command line (``ps`` shows
those to every user of the machine).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from store.backups.errors import BackupError, BackupRefused, ToolMissing

DEBIAN_TOOLS = Path("/usr/lib/postgresql")
INSTALL_HINT = "on Debian or Ubuntu: apt-get install postgresql-client (`make pg-client`)"
SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
VERSION = re.compile(r"\(PostgreSQL\) (\d+)")
COPY_REVISION = re.compile(
    r"^COPY [\w.\"]*alembic_version \(version_num\) FROM stdin;\n([^\n]+)\n", re.M
)


def find_tool(name: str, server_major: int) -> Path:
    """The ``pg_dump`` / ``pg_restore`` to use with a server of ``server_major``."""
    candidates = [DEBIAN_TOOLS / str(server_major) / "bin" / name]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    found = [path for path in candidates if path.is_file() and os.access(path, os.X_OK)]
    if not found:
        raise ToolMissing(
            f"{name} is not installed, so PostgreSQL cannot be backed up or "
            f"restored here; install it ({INSTALL_HINT}-{server_major})"
        )
    tool = found[0]
    major = tool_major(tool)
    if major < server_major:
        raise ToolMissing(
            f"{tool} is version {major}, older than the PostgreSQL {server_major} server; "
            f"install version {server_major} of the client tools ({INSTALL_HINT}-{server_major})"
        )
    return tool


def tool_major(tool: Path) -> int:
    answer = _run([str(tool), "--version"], {}, f"{tool} --version")
    match = VERSION.search(answer.stdout)
    if match is None:
        raise ToolMissing(f"{tool} --version said “{answer.stdout.strip()}”, not a version")
    return int(match.group(1))


def libpq_environment(url: URL) -> dict[str, str]:
    """PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (and PGSSLMODE) for ``url``."""
    env = {
        "PGHOST": url.host or "",
        "PGPORT": str(url.port or ""),
        "PGUSER": url.username or "",
        "PGPASSWORD": url.password or "",
        "PGDATABASE": url.database or "",
    }
    ssl = url.query.get("sslmode") or url.query.get("ssl")
    if isinstance(ssl, str) and ssl in SSL_MODES:
        env["PGSSLMODE"] = ssl
    return {key: value for key, value in env.items() if value}


def dump(tool: Path, url: URL, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        _run(
            [str(tool), "--format=custom", "--no-password", f"--file={partial}"],
            libpq_environment(url),
            "pg_dump",
        )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def archive_revision(tool: Path, archive: Path) -> str:
    """The schema revision recorded in a custom-format archive (its alembic_version row)."""
    if not archive.is_file():
        raise BackupRefused(f"there is no backup at {archive}")
    try:
        listing = _run([str(tool), "--list", str(archive)], {}, "pg_restore --list")
    except BackupError as error:
        raise BackupRefused(
            f"{archive} is not a PostgreSQL backup made by guestcomms backup ({error}); "
            "a SQLite backup restores only into SQLite"
        ) from None
    if "alembic_version" not in listing.stdout:
        raise BackupRefused(f"{archive} has no schema revision: it is not a guestcomms backup")
    data = _run(
        [str(tool), "--data-only", "--table=alembic_version", "--file=-", str(archive)],
        {},
        "pg_restore",
    )
    match = COPY_REVISION.search(data.stdout)
    if match is None:
        raise BackupRefused(f"{archive} has no schema revision: it is not a guestcomms backup")
    return match.group(1).strip()


def restore_archive(tool: Path, url: URL, archive: Path) -> None:
    """Replace what the archive holds, in one transaction: all of it or nothing."""
    _run(
        [
            str(tool),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-acl",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={url.database}",
            str(archive),
        ],
        libpq_environment(url),
        "pg_restore",
    )


def _run(command: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    # The variables of libpq are replaced, not inherited: a PGPASSWORD in the
    # operator's shell must not reach a database the URL does not name.
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    try:
        answer = subprocess.run(  # noqa: S603 - our own argument list, no shell
            command,
            env={**inherited, **env},
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        raise ToolMissing(f"{what} could not be started: {error}") from None
    if answer.returncode != 0:
        lines = [line for line in answer.stderr.strip().splitlines() if line.strip()]
        detail = "; ".join(lines[:3]) or f"exit status {answer.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return answer

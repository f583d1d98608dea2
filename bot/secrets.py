"""Signing keys: from the environment, or (on a laptop) generated once and kept under var/."""

from __future__ import annotations

import secrets
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

VAR = Path("var")


def kept_secret(configured: list[str], name: str, var: Path = VAR) -> list[str]:
    """``configured`` when set; otherwise a random key stored in ``var/<name>``.

    The stored key survives restarts, so links already sent keep working on
    this machine. Production sets the environment variable instead.
    """
    if configured:
        return configured
    path = var / name.lower()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
        log.warning(f"{name} is not set; generated one in {path} (set it in production)")
    return [path.read_text().strip()]

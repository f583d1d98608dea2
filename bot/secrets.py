"""Signing and data keys: from the environment, or (on a laptop) generated once and kept
under var/."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import structlog
from pydantic import SecretStr

from bot.settings import Settings

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


def with_data_keys(settings: Settings, var: Path = VAR) -> Settings:
    """``settings`` with the keys for guests' personal data (store/keyring.py) from the
    environment or, on a laptop's SQLite database, this machine's kept ones.

    Unlike the signing keys, they are never generated for any other database: a
    server database is shared by processes on several machines, and keys each
    machine made for itself would leave the data one wrote unreadable to the
    others — and to everyone, once a machine and its var/ are gone. There they
    stay unset, and the first use says which variables to set.
    """
    store = settings.store
    if not store.database_url.startswith("sqlite"):
        return settings
    encryption = kept_secret(
        [key.get_secret_value() for key in store.data_encryption_keys], "DATA_ENCRYPTION_KEYS", var
    )
    index = kept_secret(
        [store.data_index_key.get_secret_value()] if store.data_index_key else [],
        "DATA_INDEX_KEY",
        var,
    )
    return replace(
        settings,
        store=store.model_copy(
            update={
                "data_encryption_keys": [SecretStr(key) for key in encryption],
                "data_index_key": SecretStr(index[0]),
            }
        ),
    )


def with_kept_secrets(settings: Settings) -> Settings:
    """``settings`` with its signing keys from the environment, or this machine's
    kept ones (for the commands that sign or check: serve, dev, token, workers)."""
    unsubscribe = kept_secret(
        [key.get_secret_value() for key in settings.dispatch.unsubscribe_secret],
        "UNSUBSCRIBE_SECRET",
    )
    jwt = kept_secret([key.get_secret_value() for key in settings.web.jwt_secret], "JWT_SECRET")
    return replace(
        settings,
        dispatch=settings.dispatch.model_copy(
            update={"unsubscribe_secret": [SecretStr(key) for key in unsubscribe]}
        ),
        web=settings.web.model_copy(update={"jwt_secret": [SecretStr(key) for key in jwt]}),
    )

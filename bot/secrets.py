"""Signing and data keys: from the environment, or (on a laptop) generated once and kept
under var/."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import structlog
from pydantic import SecretStr

from bot.log_setup import REDACTOR
from bot.settings import Settings
from store.keyring import Keyring
from store.settings import StoreSettings

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


def with_kept_secrets(settings: Settings) -> Settings:
    """``settings`` with its signing keys from the environment, or this machine's
    kept ones (for the commands that sign or check: serve, dev, token, workers)."""
    unsubscribe = kept_secret(
        [key.get_secret_value() for key in settings.dispatch.unsubscribe_secret],
        "UNSUBSCRIBE_SECRET",
    )
    jwt = kept_secret([key.get_secret_value() for key in settings.web.jwt_secret], "JWT_SECRET")
    REDACTOR.know([*unsubscribe, *jwt])
    return replace(
        settings,
        dispatch=settings.dispatch.model_copy(
            update={"unsubscribe_secret": [SecretStr(key) for key in unsubscribe]}
        ),
        web=settings.web.model_copy(update={"jwt_secret": [SecretStr(key) for key in jwt]}),
    )


def with_kept_data_keys(store: StoreSettings) -> StoreSettings:
    """``store`` with the personal-data keys from the environment, or this machine's kept
    ones: every process that reads or writes guests' data (web, workers, scheduler,
    CLI) must hash and encrypt with the same keys.

    Only a laptop (SQLite) may keep generated keys: processes on several machines
    would each generate their own, and an opt-out hashed with one key is invisible
    to a check made with another. Missing or malformed keys raise ``KeyringError``
    naming the variable.
    """
    if store.database_url.startswith("sqlite"):
        encryption = kept_secret(
            [key.get_secret_value() for key in store.data_encryption_keys], "DATA_ENCRYPTION_KEYS"
        )
        configured_index = store.data_index_key
        index = kept_secret(
            [configured_index.get_secret_value()] if configured_index else [], "DATA_INDEX_KEY"
        )
        store = store.model_copy(
            update={
                "data_encryption_keys": [SecretStr(key) for key in encryption],
                "data_index_key": SecretStr(index[0]),
            }
        )
    Keyring.from_settings(store)  # refuses, naming what is missing or malformed
    return store

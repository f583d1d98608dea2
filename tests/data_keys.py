"""The personal-data keys of the test suite (store/keyring.py).

Every process of a test — the test itself, the web app, workers, the CLI —
must hash an address the same way, or a suppression recorded by one would
be invisible to another. So they all get these fixed keys.
"""

from __future__ import annotations

import base64

from store.settings import StoreSettings

ENCRYPTION_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
INDEX_KEY = base64.urlsafe_b64encode(bytes(range(32, 64))).decode()
# For processes started with an environment (worker subprocesses, the CLI).
DATA_KEYS_ENV = {"DATA_ENCRYPTION_KEYS": ENCRYPTION_KEY, "DATA_INDEX_KEY": INDEX_KEY}


def store_settings(database_url: str, redis_url: str | None = None) -> StoreSettings:
    """The store's settings for a test: this database, no stray REDIS_URL, the test keys."""
    return StoreSettings.model_validate(
        {
            "database_url": database_url,
            "redis_url": redis_url,
            "data_encryption_keys": [ENCRYPTION_KEY],
            "data_index_key": INDEX_KEY,
        }
    )

"""The personal-data keys of every test database.

Fixed rather than drawn per test: a harness, the test itself and worker
processes open the same database separately and must read one another's
guests. Tests of key handling itself (rotation, missing keys, dev mode) make
their own.
"""

from __future__ import annotations

from store.settings import StoreSettings

ENCRYPTION_KEY = "p1Zz7F_pw0sUCKV7qaCeofTpBxz2h8b3FsI4lBC2SJw="
INDEX_KEY = "KhBoWcryHKzZRUAa7OwsdtgxzWWCTTDTAkTjxQEA2TQ="
# For processes the tests start (workers, `guestcomms …`).
ENV = {"DATA_ENCRYPTION_KEYS": ENCRYPTION_KEY, "DATA_INDEX_KEY": INDEX_KEY}


def store_settings(database_url: str, redis_url: str | None = None) -> StoreSettings:
    """A test's store settings: its database, with the test keys. ``redis_url`` is
    pinned so a REDIS_URL in the environment cannot leak in."""
    return StoreSettings(
        database_url=database_url,
        redis_url=redis_url,
        data_encryption_keys=ENCRYPTION_KEY,
        data_index_key=INDEX_KEY,
    )

"""Settings the store reads: where the database is."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/guestcomms.db"


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# Keys from one comma-separated variable: the first is used, all are accepted.
KeyList = Annotated[list[SecretStr], NoDecode, BeforeValidator(_comma_separated)]


class StoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # Echo SQL to the log; for debugging only.
    database_echo: bool = False
    # Connections kept open per process. A worker runs several batches at
    # once, each with several sends in flight; when they need more than the
    # pool holds, every extra connection is opened and closed again, which on
    # PostgreSQL costs more than the statement it serves.
    database_pool_size: int = Field(default=20, ge=1)
    # Broker, rate limits, breaker state and cache; unset on a laptop, where
    # all of those live in the process.
    redis_url: str | None = None
    # Personal data at rest (store/keyring.py): the first key encrypts, all
    # decrypt; the index key makes lookups and erased guests' opt-outs work
    # and is never rotated. A laptop generates both under var/.
    data_encryption_keys: KeyList = Field(default_factory=list)
    data_index_key: SecretStr | None = None

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        """Accept the URLs hosting platforms hand out and pick the async driver."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
            return "sqlite+aiosqlite://" + url[len("sqlite://") :]
        return url

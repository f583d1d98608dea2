"""Column types for personal data at rest: encrypted text, and blind indexes to find it by.

Where the keys come from: SQLAlchemy hands a column type nothing but the
*dialect* of the engine running the statement, and every engine has its own
dialect instance. ``Database`` hangs its key source on its engine's dialect
(``use_keys``), so the types find the keys of the database they write to:
no module-level key, nothing read from the environment at import time, and
two databases with different keys in one process (tests, the benchmark's
pass-through run) never mix. Because the work happens in the types' bind and
result processing, ORM objects, ORM bulk statements and Core statements all
encrypt and decrypt alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import String, Text
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ClauseElement, ColumnElement
from sqlalchemy.types import TypeDecorator

from store.keyring import KeyringError, is_encrypted

_KEYS = "guestcomms_personal_data_keys"
# What an index column holds: the hex HMAC-SHA256 of Keyring.index.
INDEX_SHAPE = re.compile(r"[0-9a-f]{64}")


class PersonalDataKeys(Protocol):
    """What the types need of a ``store.keyring.Keyring``."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, stored: str) -> str: ...

    def index(self, kind: str, normalised_value: str) -> str: ...


KeySource = Callable[[], PersonalDataKeys]


def use_keys(engine: AsyncEngine | Engine, source: KeySource) -> None:
    """Make ``engine``'s statements seal and index personal data with ``source()``'s keys.

    ``source`` is called per value (cheaply: ``Database.keyring`` builds the
    keyring once), so an engine that never touches personal data never needs keys.
    """
    sync = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    setattr(sync.dialect, _KEYS, source)


def keys_of(dialect: Dialect) -> PersonalDataKeys:
    source: KeySource | None = getattr(dialect, _KEYS, None)
    if source is None:
        raise KeyringError(
            "this database engine has no keys for personal data (open it through "
            "store.database.Database)"
        )
    return source()


class _NullChecksOnly(TypeDecorator.Comparator[str]):
    """Ciphertext compares with no value: a fresh nonce makes every encryption differ, so
    ``Guest.email == x`` would silently match no row. Only "is it set" is allowed; an
    equality lookup goes through the blind index, anything else is done in Python.

    (SQLAlchemy itself compares columns with ``==`` when their hashes collide in
    its dictionaries; comparisons with another SQL expression stay allowed.)
    """

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
        if not _allowed(op, other):
            raise TypeError(
                f"{self.expr} is encrypted: compare its blind index, or filter in Python"
            )
        return super().operate(op, *other, **kwargs)

    def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> ColumnElement[Any]:
        if not _allowed(op, (other,)):
            raise TypeError(
                f"{self.expr} is encrypted: compare its blind index, or filter in Python"
            )
        return super().reverse_operate(op, other, **kwargs)


def _allowed(op: Any, other: tuple[Any, ...]) -> bool:
    if op in (operators.is_, operators.is_not):
        return True
    if op in (operators.eq, operators.ne) and len(other) == 1:
        return other[0] is None or isinstance(other[0], ClauseElement)
    return False


class SealedText(TypeDecorator[str]):
    """Text stored encrypted (AES-GCM, a random nonce per value) and read back in clear.

    A value still in clear — written before encryption, or restored from such
    a backup — reads as it is; ``guestcomms rotate-keys`` seals it.
    """

    impl = Text
    cache_ok = True
    comparator_factory = _NullChecksOnly

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keys_of(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or not is_encrypted(value):
            return value
        return keys_of(dialect).decrypt(value)


class BlindIndex(TypeDecorator[str]):
    """A keyed hash of a normalised value (``Keyring.index``), for equality lookups and
    unique constraints on encrypted columns.

    Assign and compare it with the *clear* normalised value — ``Guest.phone_index
    == "+12015550123"``, ``.in_([...])`` — and the hash is what reaches the
    database. Reading gives the hash, which only tells whether it is set; a hash
    written back is kept as it is (an email or phone never looks like one), so
    rows copied through the model keep their index.
    """

    impl = String(64)
    cache_ok = True

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or INDEX_SHAPE.fullmatch(value):
            return value
        return keys_of(dialect).index(self.kind, value)

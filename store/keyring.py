"""Keys for personal data at rest: AES-GCM encryption with rotation, and blind indexes.

Two kinds of key, for two jobs:

- **Encryption keys** (DATA_ENCRYPTION_KEYS, comma-separated, each 32 bytes in
  URL-safe base64). The first encrypts; every one decrypts, so a key is
  rotated by putting a new one first, running ``guestcomms rotate-keys`` and
  then dropping the old one. A ciphertext names its key by a short id derived
  from the key itself, so the order of the list never matters for reading.
- **The index key** (DATA_INDEX_KEY). Equality lookups ("the guest with this
  phone") and the erased-guest suppression ledger use keyed hashes of the
  normalised value. This key is never rotated: an erased guest's opt-out is
  kept only as such a hash, and a new key could not recompute it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.errors import StoreError
from store.settings import StoreSettings

KEY_BYTES = 32
NONCE_BYTES = 12
# "gc1" names this format: key id, nonce and ciphertext (with its tag), so a
# later format can live beside it.
PREFIX = "gc1"


class KeyringError(StoreError):
    """A data key is missing or malformed, or a ciphertext cannot be read with the keys held."""


def new_key() -> str:
    """A fresh key in the form the settings take."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _decode_key(text: str, name: str) -> bytes:
    try:
        padded = text.strip() + "=" * (-len(text.strip()) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
    except ValueError as error:
        raise KeyringError(f"{name} holds a key that is not URL-safe base64") from error
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"{name} holds a key of {len(raw)} bytes; each must be {KEY_BYTES}")
    return raw


def _key_id(raw: bytes) -> str:
    return hashlib.sha256(b"guestcomms key id\0" + raw).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Keyring:
    """Encrypts and indexes personal data with the keys it was given."""

    encryption_keys: tuple[bytes, ...]
    index_key: bytes
    # Built once: every guest read or written passes through here, several
    # values a row, so neither the key ids nor the ciphers are derived per value.
    _ciphers: dict[str, AESGCM] = field(init=False, repr=False, compare=False)
    _current: tuple[str, AESGCM] = field(init=False, repr=False, compare=False)
    # The HMAC with its key already absorbed: a copy of it per index skips the
    # key's two padded blocks (about 40 % of a short value's HMAC; webhooks
    # index every sender).
    _indexer: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ciphers = {_key_id(key): AESGCM(key) for key in reversed(self.encryption_keys)}
        current_id = _key_id(self.encryption_keys[0])
        object.__setattr__(self, "_ciphers", ciphers)
        object.__setattr__(self, "_current", (current_id, ciphers[current_id]))
        object.__setattr__(self, "_indexer", hmac.new(self.index_key, digestmod=hashlib.sha256))

    @classmethod
    def from_text(cls, encryption_keys: list[str], index_key: str) -> Keyring:
        if not encryption_keys:
            raise KeyringError("DATA_ENCRYPTION_KEYS is empty: give at least one key")
        if not index_key:
            raise KeyringError("DATA_INDEX_KEY is empty")
        return cls(
            tuple(_decode_key(key, "DATA_ENCRYPTION_KEYS") for key in encryption_keys),
            _decode_key(index_key, "DATA_INDEX_KEY"),
        )

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> Keyring:
        """The keys the settings hold, or an error naming the variables that are not set."""
        missing = [
            name
            for name, value in (
                ("DATA_ENCRYPTION_KEYS", settings.data_encryption_keys),
                ("DATA_INDEX_KEY", settings.data_index_key),
            )
            if not value
        ]
        if missing or settings.data_index_key is None:
            raise KeyringError(
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
                "guests' personal data is encrypted and looked up with these keys. Set them "
                "in the environment (see the README, For operators: keys for personal data); "
                "only a laptop setup on SQLite generates its own, under var/"
            )
        return cls.from_text(
            [key.get_secret_value() for key in settings.data_encryption_keys],
            settings.data_index_key.get_secret_value(),
        )

    @property
    def current_key_id(self) -> str:
        return self._current[0]

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def encrypt(self, plaintext: str) -> str:
        """Text safe to store: readable again only with the same key."""
        key_id, cipher = self._current
        nonce = os.urandom(NONCE_BYTES)
        sealed = cipher.encrypt(nonce, plaintext.encode(), None)
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}:{key_id}:{body}"

    def decrypt(self, stored: str) -> str:
        _, key_id, body = _parts(stored)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise KeyringError(f"a value is encrypted with key {key_id}, which is not configured")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode()
        except (InvalidTag, ValueError) as error:
            raise KeyringError(f"a value under key {key_id} was altered") from error

    def key_id_of(self, stored: str) -> str:
        return _parts(stored)[1]

    def index(self, kind: str, normalised_value: str) -> str:
        """A keyed hash for equality lookups: the same value of the same kind gives the
        same index; without the key it tells nothing. ``kind`` separates, say, an
        email address from a name that happens to read the same."""
        indexer = self._indexer.copy()
        indexer.update(kind.encode() + b"\0" + normalised_value.encode())
        return indexer.hexdigest()


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX + ":")


def _parts(stored: str) -> tuple[str, str, str]:
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise KeyringError("a stored value is not in the encrypted format")
    return parts[0], parts[1], parts[2]

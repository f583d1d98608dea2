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
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.errors import StoreError

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

    @property
    def current_key_id(self) -> str:
        return _key_id(self.encryption_keys[0])

    def encrypt(self, plaintext: str) -> str:
        """Text safe to store: readable again only with the same key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.encryption_keys[0]).encrypt(nonce, plaintext.encode(), None)
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}:{self.current_key_id}:{body}"

    def decrypt(self, stored: str) -> str:
        prefix, key_id, body = _parts(stored)
        del prefix
        for key in self.encryption_keys:
            if _key_id(key) == key_id:
                raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
                try:
                    return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode()
                except InvalidTag as error:
                    raise KeyringError(f"a value under key {key_id} was altered") from error
        raise KeyringError(f"a value is encrypted with key {key_id}, which is not configured")

    def key_id_of(self, stored: str) -> str:
        return _parts(stored)[1]

    def index(self, kind: str, normalised_value: str) -> str:
        """A keyed hash for equality lookups: the same value of the same kind gives the
        same index; without the key it tells nothing. ``kind`` separates, say, an
        email address from a name that happens to read the same."""
        message = kind.encode() + b"\0" + normalised_value.encode()
        return hmac.new(self.index_key, message, hashlib.sha256).hexdigest()


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX + ":")


def _parts(stored: str) -> tuple[str, str, str]:
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise KeyringError("a stored value is not in the encrypted format")
    return parts[0], parts[1], parts[2]

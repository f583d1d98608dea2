"""Personal data keys: what is encrypted reads back only with its key; indexes are stable."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from store.keyring import Keyring, KeyringError, is_encrypted, new_key


def test_a_value_reads_back_and_never_shows_in_clear() -> None:
    keyring = Keyring.from_text([new_key()], new_key())
    stored = keyring.encrypt("ana@example.com")
    assert is_encrypted(stored)
    assert "ana" not in stored
    assert keyring.decrypt(stored) == "ana@example.com"
    assert keyring.encrypt("ana@example.com") != stored  # a fresh nonce each time


def test_an_old_key_still_reads_after_a_new_one_is_put_first() -> None:
    old, new, index = new_key(), new_key(), new_key()
    stored = Keyring.from_text([old], index).encrypt("+12015550123")
    rotated = Keyring.from_text([new, old], index)
    assert rotated.decrypt(stored) == "+12015550123"
    assert rotated.key_id_of(rotated.encrypt("x")) == rotated.current_key_id
    with pytest.raises(KeyringError, match="not configured"):
        Keyring.from_text([new], index).decrypt(stored)


def test_an_altered_value_is_refused() -> None:
    keyring = Keyring.from_text([new_key()], new_key())
    stored = keyring.encrypt("Ana Lima")
    altered = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(KeyringError, match="altered"):
        keyring.decrypt(altered)


def test_indexes_depend_on_the_key_and_the_kind() -> None:
    key = new_key()
    one, other = Keyring.from_text([new_key()], key), Keyring.from_text([new_key()], key)
    assert one.index("email", "ana@example.com") == other.index("email", "ana@example.com")
    assert one.index("email", "ana@example.com") != one.index("name", "ana@example.com")
    assert Keyring.from_text([new_key()], new_key()).index("email", "ana@example.com") != (
        one.index("email", "ana@example.com")
    )


def test_an_index_is_the_keyed_sha256_of_kind_and_value_as_stored_before() -> None:
    # Indexes are on disk (unique constraints, the ledger): their form never changes.
    keyring = Keyring.from_text([new_key()], new_key())
    for kind, value in (("phone", "+12015550123"), ("email", "ana@example.com"), ("name", "é")):
        expected = hmac.new(
            keyring.index_key, kind.encode() + b"\0" + value.encode(), hashlib.sha256
        ).hexdigest()
        assert keyring.index(kind, value) == expected
        assert keyring.index(kind, value) == expected  # the prepared key is not consumed


@pytest.mark.parametrize(
    ("keys", "message"),
    [([], "empty"), (["c2l4dGVlbiBieXRlcyBrZXk="], "17 bytes"), (["!!!"], "base64")],
)
def test_bad_keys_are_named(keys: list[str], message: str) -> None:
    with pytest.raises(KeyringError, match=message):
        Keyring.from_text(keys, new_key())

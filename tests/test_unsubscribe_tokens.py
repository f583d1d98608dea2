"""Unsubscribe tokens: carry ids only, survive a URL, and refuse any change, age or old key."""

from __future__ import annotations

import base64
import json
import re
import string

import pytest

from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from dispatch.errors import ExpiredUnsubscribeToken, InvalidUnsubscribeToken
from store.enums import Channel


def _issue(tokens: UnsubscribeTokens, channel: Channel = Channel.EMAIL) -> str:
    return tokens.issue(organisation_id=3, guest_id=1234, channel=channel, campaign_id=56)


def test_a_token_names_organisation_guest_channel_and_campaign() -> None:
    tokens = UnsubscribeTokens(["secret"], max_age_days=400)
    for channel in Channel:
        claim = tokens.verify(_issue(tokens, channel))
        assert (claim.organisation_id, claim.guest_id, claim.channel, claim.campaign_id) == (
            3,
            1234,
            channel,
            56,
        )


def test_a_token_is_url_safe_and_holds_no_address() -> None:
    token = _issue(UnsubscribeTokens(["secret"], max_age_days=400))
    assert re.fullmatch(r"[A-Za-z0-9_\-.]+", token)
    payload = token.split(".")[0]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert decoded == [3, 1234, "e", 56]


def test_changing_any_character_invalidates_the_token() -> None:
    tokens = UnsubscribeTokens(["secret"], max_age_days=400)
    token = _issue(tokens)
    alphabet = string.ascii_letters + string.digits + "-_.="
    for position, character in enumerate(token):
        for replacement in alphabet.replace(character, ""):
            tampered = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(InvalidUnsubscribeToken):
                tokens.verify(tampered)
    broken = [token[:-1], token + "x", token + "=", token + "==", "", "not-a-token"]
    for broken_token in [*broken, token.replace(".", ""), " " + token, token.upper()]:
        with pytest.raises(InvalidUnsubscribeToken):
            tokens.verify(broken_token)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = _issue(UnsubscribeTokens(["someone-else"], max_age_days=400))
    with pytest.raises(InvalidUnsubscribeToken, match="not valid"):
        UnsubscribeTokens(["secret"], max_age_days=400).verify(token)


def test_rotation_accepts_old_tokens_until_the_old_secret_is_dropped() -> None:
    before = _issue(UnsubscribeTokens(["old"], max_age_days=400))
    rotating = UnsubscribeTokens(["new", "old"], max_age_days=400)
    assert rotating.verify(before).guest_id == 1234
    after = _issue(rotating)
    assert UnsubscribeTokens(["new"], max_age_days=400).verify(after).guest_id == 1234
    with pytest.raises(InvalidUnsubscribeToken):
        UnsubscribeTokens(["new"], max_age_days=400).verify(before)


def test_an_expired_token_is_refused() -> None:
    now = [1_800_000_000.0]
    tokens = UnsubscribeTokens(["secret"], max_age_days=30, clock=lambda: now[0])
    token = _issue(tokens)
    now[0] += 30 * 86_400
    assert tokens.verify(token).guest_id == 1234
    now[0] += 1
    with pytest.raises(ExpiredUnsubscribeToken, match="expired") as expired:
        tokens.verify(token)
    # Still genuine: the page for an old link can say who sent it.
    assert expired.value.organisation_id == 3


def test_tokens_need_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        UnsubscribeTokens([], max_age_days=1)

"""Unsubscribe tokens: which guest, which organisation, which channel and campaign — signed.

The token carries ids only (no address in clear), is URL-safe, and is
verified with the secret alone, so the unsubscribe page and the one-click
POST work without a database read and cannot be forged or altered.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from dispatch.errors import ExpiredUnsubscribeToken, InvalidUnsubscribeToken
from store.enums import Channel

_SALT = "guestcomms.unsubscribe.v1"
_CHANNEL_CODES = {Channel.EMAIL: "e", Channel.SMS: "s"}
_CHANNELS = {code: channel for channel, code in _CHANNEL_CODES.items()}
# payload . timestamp . HMAC-SHA256 (32 bytes = 43 base64 characters, unpadded)
_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")


def _is_canonical(token: str) -> bool:
    """One spelling per token: base64 ignores stray trailing bits and padding, so a
    changed last character could otherwise still verify."""
    if not _SHAPE.fullmatch(token):
        return False
    try:
        return all(base64_encode(base64_decode(part)).decode() == part for part in token.split("."))
    except BadData:
        return False


@dataclass(frozen=True, slots=True)
class UnsubscribeClaim:
    organisation_id: int
    guest_id: int
    channel: Channel
    campaign_id: int | None
    issued_at: datetime


def _signer_with_clock(clock: Callable[[], float]) -> type[TimestampSigner]:
    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return ClockedSigner


class UnsubscribeTokens:
    def __init__(
        self,
        secrets: Sequence[str],
        max_age_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secrets:
            raise ValueError("at least one unsubscribe secret is needed")
        # itsdangerous signs with the last key and accepts all of them.
        self._serializer = URLSafeTimedSerializer(
            list(reversed(secrets)),
            salt=_SALT,
            signer=_signer_with_clock(clock),
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self._max_age_seconds = max_age_days * 86_400

    def issue(
        self, *, organisation_id: int, guest_id: int, channel: Channel, campaign_id: int | None
    ) -> str:
        payload = [organisation_id, guest_id, _CHANNEL_CODES[channel], campaign_id or 0]
        return str(self._serializer.dumps(payload))

    def verify(self, token: str) -> UnsubscribeClaim:
        if not _is_canonical(token):
            raise InvalidUnsubscribeToken("this unsubscribe link is not valid")
        try:
            payload, signed_at = self._serializer.loads(
                token, max_age=self._max_age_seconds, return_timestamp=True
            )
        except SignatureExpired as expired:
            raise ExpiredUnsubscribeToken(
                "this unsubscribe link has expired", self._organisation_of(expired.payload)
            ) from None
        except BadData:
            raise InvalidUnsubscribeToken("this unsubscribe link is not valid") from None
        match payload:
            case [int(organisation), int(guest), str(code), int(campaign)] if code in _CHANNELS:
                return UnsubscribeClaim(
                    organisation_id=organisation,
                    guest_id=guest,
                    channel=_CHANNELS[code],
                    campaign_id=campaign or None,
                    issued_at=signed_at.astimezone(UTC),
                )
        raise InvalidUnsubscribeToken("this unsubscribe link is not valid")

    def _organisation_of(self, payload: object) -> int | None:
        try:
            loaded = self._serializer.load_payload(payload)  # type: ignore[arg-type]
        except BadData:
            return None
        match loaded:
            case [int(organisation), *_]:
                return organisation
        return None

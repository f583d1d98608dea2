"""Tracking tokens: which delivery an open or click belongs to, and for a click where it goes.

Signed like the unsubscribe tokens (itsdangerous, HMAC-SHA256, the same
secrets under another salt, so neither kind of token passes for the other).
The destination is inside the signature: ``/t/c`` can only redirect to a URL
that was in the message, never to one a stranger puts in a link. No
timestamp: the same delivery always gets the same token, so a message
rendered again (a retried batch) is byte for byte the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeSerializer

from dispatch.errors import InvalidTrackingToken

_OPEN_SALT = "guestcomms.tracking.open.v1"
_CLICK_SALT = "guestcomms.tracking.click.v1"
# Longer links are not rewritten: the token would make them longer than mail
# clients and proxies handle.
MAX_URL_LENGTH = 1500


@dataclass(frozen=True, slots=True)
class ClickClaim:
    delivery_id: int
    url: str


def trackable(url: str) -> bool:
    """Web links only: ``mailto:``, ``tel:`` and anchors are left as they are."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(url) <= MAX_URL_LENGTH


class TrackingTokens:
    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("at least one signing secret is needed")
        keys = list(reversed(secrets))  # itsdangerous signs with the last key
        kwargs = {"digest_method": hashlib.sha256}
        self._opens = URLSafeSerializer(keys, salt=_OPEN_SALT, signer_kwargs=kwargs)
        self._clicks = URLSafeSerializer(keys, salt=_CLICK_SALT, signer_kwargs=kwargs)

    def open_token(self, delivery_id: int) -> str:
        return str(self._opens.dumps(delivery_id))

    def click_token(self, delivery_id: int, url: str) -> str:
        return str(self._clicks.dumps([delivery_id, url]))

    def verify_open(self, token: str) -> int:
        try:
            payload = self._opens.loads(token)
        except (BadData, UnicodeError, ValueError):
            raise InvalidTrackingToken("this tracking link is not valid") from None
        if isinstance(payload, int) and not isinstance(payload, bool):
            return payload
        raise InvalidTrackingToken("this tracking link is not valid")

    def verify_click(self, token: str) -> ClickClaim:
        try:
            payload = self._clicks.loads(token)
        except (BadData, UnicodeError, ValueError):
            raise InvalidTrackingToken("this link is not valid") from None
        match payload:
            case [int(delivery_id), str(url)] if trackable(url):
                return ClickClaim(delivery_id, url)
        raise InvalidTrackingToken("this link is not valid")

"""Optional DKIM signing; the signature covers the headers a receiver must be able to trust."""

from __future__ import annotations

import dkim

# From, Subject, Date and Message-ID identify the message; the two
# unsubscribe headers are signed so nobody in transit can swap the link
# (Gmail and Yahoo require it for one-click unsubscribe).
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)


def dkim_sign(message: bytes, *, selector: str, domain: str, private_key_pem: str) -> bytes:
    """The message with a DKIM-Signature header in front."""
    signature = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        private_key_pem.encode(),
        include_headers=list(SIGNED_HEADERS),
    )
    return bytes(signature) + message

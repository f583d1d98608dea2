"""Optional DKIM signing; the signature covers the headers a receiver must be able to trust."""

from __future__ import annotations

from email.message import Message

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


def add_dkim_signature(
    message: Message, *, selector: str, domain: str, private_key_pem: str
) -> None:
    """Sign ``message`` as it will be sent and add the DKIM-Signature header to it."""
    signed = dkim_sign(
        message.as_bytes(), selector=selector, domain=domain, private_key_pem=private_key_pem
    )
    header = signed[: len(signed) - len(message.as_bytes())].decode()
    name, _, value = header.partition(":")
    # Unfolded: the header is re-folded when the message is written out, and
    # relaxed header canonicalisation ignores how.
    message[name] = " ".join(value.split())

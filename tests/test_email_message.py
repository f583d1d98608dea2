"""The email a guest receives parses, carries RFC 8058 unsubscribe, and says who sent it and why."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dispatch.compose.dkim_signing import dkim_sign
from dispatch.compose.html_safety import check_html
from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from tests.compose_helpers import ZOE, composer

TOKENS = UnsubscribeTokens(["test-secret"], max_age_days=400)
SENT_AT = datetime(2027, 4, 1, 15, 0, tzinfo=UTC)


def _raw(campaign_id: int = 42) -> bytes:
    """The bytes a provider is handed."""
    return (
        composer("invitation")
        .email_parts(
            ZOE,
            campaign_id=campaign_id,
            tokens=TOKENS,
            public_base_url="https://comms.example.com",
            sent_at=SENT_AT,
        )
        .build()
        .as_bytes()
    )


def _built(campaign_id: int = 42) -> EmailMessage:
    """The message as a receiver reads it."""
    parsed = message_from_bytes(_raw(campaign_id), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def test_the_email_is_multipart_text_and_html_with_honest_headers() -> None:
    message = _built()
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Evergreen Weddings <hello@evergreen.example.com>"
    assert message["To"] == "Zoë Müller <zoe@example.com>"
    assert message["Subject"] == "You're invited: Alex & Sam, Saturday, June 12, 2027"
    assert message["Message-ID"] == "<gc.42.7@evergreen.example.com>"
    assert message["Date"] == "Thu, 01 Apr 2027 15:00:00 +0000"
    assert message["Content-Language"] == "en-US"


def test_rfc_8058_one_click_unsubscribe_headers() -> None:
    message = _built()
    links = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
    assert len(links) == 2
    https, mailto = links
    assert https.startswith("https://comms.example.com/u/")
    assert mailto.startswith("mailto:hello@evergreen.example.com?subject=unsubscribe%20")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    claim = TOKENS.verify(https.rsplit("/", 1)[1])
    assert (claim.organisation_id, claim.guest_id, claim.campaign_id) == (1, 7, 42)
    assert "zoe" not in https


def test_both_bodies_end_with_who_sent_it_why_where_and_how_to_stop() -> None:
    text, html = _parts(_built())
    unsubscribe = re.findall(r"<([^>]+)>", _built()["List-Unsubscribe"])[0]
    for body in (text, html):
        assert "on the guest list for Alex" in body
        assert "Evergreen Weddings &amp; Events" in body or "Evergreen Weddings & Events" in body
        assert "1200 Market Street, Suite 400, Philadelphia, PA 19107" in body
        assert unsubscribe in body
    assert text.rstrip().endswith(f"Unsubscribe from these messages: {unsubscribe}")


def test_the_html_is_an_accessible_page() -> None:
    _, html = _parts(_built())
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en-US">' in html
    assert "<title>You&#x27;re invited: Alex &amp; Sam, Saturday, June 12, 2027</title>" in html
    assert "<main>" in html
    assert "<footer" in html
    assert check_html(html).findings == ()


def test_the_same_guest_and_campaign_always_get_the_same_message_id() -> None:
    assert _built(42)["Message-ID"] == _built(42)["Message-ID"]
    assert _built(42)["Message-ID"] != _built(43)["Message-ID"]


def _key_pair() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def test_dkim_signs_the_identity_and_unsubscribe_headers() -> None:
    private, public = _key_pair()
    raw = _raw()
    signed = dkim_sign(raw, selector="gc", domain="evergreen.example.com", private_key_pem=private)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"gc._domainkey.evergreen.example.com."
        return record

    assert dkim.verify(signed, dnsfunc=dns)
    header = message_from_bytes(signed, policy=policy.default)["DKIM-Signature"]
    signed_headers = re.search(r"h=([^;]+)", str(header).replace(" ", ""))
    assert signed_headers is not None
    names = set(signed_headers.group(1).lower().split(":"))
    assert {
        "from", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post",
    } <= names  # fmt: skip

    swapped = signed.replace(b"https://comms.example.com/u/", b"https://evil.example.com/u/", 1)
    assert not dkim.verify(swapped, dnsfunc=dns)

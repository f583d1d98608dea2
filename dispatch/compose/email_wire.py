"""The bytes SMTP sends for a message ``build_email`` builds, written without the generator.

aiosmtplib's ``send_message`` flattens a ``Message`` with the ``email``
package's generator (compat32: headers re-folded at 78 columns, base64
bodies): about a sixth of a campaign worker's CPU went into building and
flattening each guest's message (4.1 against 3.4 ms a recipient, measured).
The message's shape never changes — a multipart/alternative with a text
and an HTML part, both UTF-8 in base64 — so ``wire_bytes`` writes it
directly: the per-guest headers folded by the same policy (short ASCII
ones, which folding leaves as they are, written as they are), the bodies
base64-encoded in C. tests/test_email_wire.py
proves the bytes equal the generator's for many guests.
"""

from __future__ import annotations

import base64
import random
import sys
from dataclasses import dataclass
from email.header import Header
from email.policy import compat32
from email.utils import format_datetime, formataddr

from dispatch.compose.email_message import (
    ONE_CLICK,
    EmailContent,
    Envelope,
    Footer,
    html_document,
    one_line,
)

# What aiosmtplib flattens with for a ``Message`` (its cte_type does not matter here:
# every part is base64 and every header ASCII once encoded).
_POLICY = compat32
_FOLD_AT = 78
_PART_HEADERS = (
    'Content-Type: text/{subtype}; charset="utf-8"\n'
    "MIME-Version: 1.0\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
)
_TEXT_PART = _PART_HEADERS.format(subtype="plain").encode()
_HTML_PART = _PART_HEADERS.format(subtype="html").encode()
# The generator's own boundary: 15 "=", a random number of 19 digits, "==".
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))


@dataclass(frozen=True, slots=True)
class WireEmail:
    """A message as SMTP carries it: the envelope's two addresses and the bytes."""

    sender: str
    recipient: str
    data: bytes
    message_id: str


def wire_email(
    content: EmailContent, envelope: Envelope, footer: Footer, boundary: str | None = None
) -> WireEmail:
    """What ``flatten_message(build_email(content, envelope, footer))`` gives, with the
    envelope's addresses (those the generator's From and To name)."""
    return WireEmail(
        sender=envelope.from_address,
        recipient=envelope.to_address,
        data=wire_bytes(content, envelope, footer, boundary),
        message_id=envelope.message_id,
    )


def wire_bytes(
    content: EmailContent, envelope: Envelope, footer: Footer, boundary: str | None = None
) -> bytes:
    """``boundary``: the generator picks one at random; tests fix it to compare."""
    if boundary is None:
        number = random.randrange(sys.maxsize)  # noqa: S311 (what the generator does)
        # No body line can contain "--" (base64), so it never needs a second try.
        boundary = "=" * 15 + f"{number:0{_BOUNDARY_DIGITS}d}" + "=="
    subject = one_line(content.subject)
    headers = (
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ("MIME-Version", "1.0"),
        (
            "From",
            formataddr((one_line(envelope.from_name), envelope.from_address), charset="utf-8"),
        ),
        ("To", formataddr((one_line(envelope.to_name), envelope.to_address), charset="utf-8")),
        ("Subject", subject if subject.isascii() else Header(subject, "utf-8").encode()),
        ("Date", format_datetime(envelope.date)),
        ("Message-ID", envelope.message_id),
        (
            "List-Unsubscribe",
            f"<{envelope.unsubscribe_url}>, <{envelope.unsubscribe_mailto}>",
        ),
        ("List-Unsubscribe-Post", ONE_CLICK),
        ("Content-Language", envelope.lang),
    )
    text = content.text.rstrip("\n") + "\n\n" + footer.text()
    html = html_document(content.subject, content.html_fragment, footer, envelope.lang)
    delimiter = f"--{boundary}\n".encode()
    return b"".join(
        (
            "".join(fold(name, value) for name, value in headers).encode("ascii"),
            b"\n",
            delimiter,
            _TEXT_PART,
            base64.encodebytes(text.encode()),
            b"\n",
            delimiter,
            _HTML_PART,
            base64.encodebytes(html.encode()),
            f"\n--{boundary}--\n".encode(),
        )
    )


def fold(name: str, value: str) -> str:
    """One header line as compat32 writes it. Folding leaves a short line of printable
    ASCII that neither starts nor ends with a space as it is; anything else goes
    through the policy itself."""
    if (
        len(name) + 2 + len(value) <= _FOLD_AT
        and value.isascii()
        and value.isprintable()
        and value.strip() == value
    ):
        return f"{name}: {value}\n"
    return _POLICY.fold(name, value)

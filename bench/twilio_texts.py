"""Texts as Twilio posts them to ``/twilio/sms``: signed STOPs and RSVPs for ``bench.inbound``.

Signed up front (HMAC and form encoding in the client would take CPU from
the server under test), with Twilio's own ``RequestValidator``.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

AUTH_TOKEN = secrets.token_hex(16)  # per run: never a real credential
ACCOUNT_SID = "AC" + "be" * 16
ORGANISATION_NUMBER = "+12015550100"  # the demo organisation's sms_number
SIGNATURE = "X-Twilio-Signature"
# A demo guest's number every so often, so some STOPs take the "known guest" path.
GUEST_EVERY = 25
RSVP_ANSWERS = (("Yes, 2 of us", "confirmed"), ("Sorry, can't make it", "declined"))


@dataclass(frozen=True, slots=True)
class SignedText:
    serial: int
    sender: str
    rsvp: str | None  # the status this text asks for, or None for a STOP
    body: bytes
    headers: dict[str, str]


def rsvp_guest_phone(n: int) -> str:
    """The imported guests' numbers: 201-650-0000 onwards, clear of the STOP senders."""
    return f"+1201{650 + n // 10_000}{n % 10_000:04d}"


def rsvp_guest_csv(count: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "phone"])
    for n in range(count):
        writer.writerow([f"Bench Guest {n}", f"rsvp{n}@example.com", rsvp_guest_phone(n)])
    return out.getvalue()


def signed_texts(
    url: str, count: int, stop_guests: Sequence[str], rsvp_guests: int, rsvp_share: float
) -> list[SignedText]:
    """Signed up front: HMAC and form encoding in the client would take CPU from the server."""
    validator = RequestValidator(AUTH_TOKEN)
    known = iter(stop_guests)
    stops = rsvps = 0
    texts = []
    for n in range(count):
        rsvp: str | None = None
        if int((n + 1) * rsvp_share) > int(n * rsvp_share):  # this one is an RSVP
            guest = rsvps % rsvp_guests if rsvp_guests else 0
            sender = rsvp_guest_phone(guest)
            body, rsvp = RSVP_ANSWERS[guest % len(RSVP_ANSWERS)]
            rsvps += 1
        else:
            # 201-600-0000 onwards: valid, unassigned, clear of the demo guests' 201-555-01xx.
            found = next(known, None) if stops % GUEST_EVERY == 0 else None
            sender = found or f"+1201{600 + stops // 10_000}{stops % 10_000:04d}"
            body = "STOP"
            stops += 1
        form = {
            "MessageSid": f"SM{n:032x}",
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "To": ORGANISATION_NUMBER,
            "Body": body,
        }
        signature = validator.compute_signature(url, form)
        headers = {"Content-Type": "application/x-www-form-urlencoded", SIGNATURE: signature}
        texts.append(SignedText(n, sender, rsvp, urlencode(form).encode(), headers))
    return texts

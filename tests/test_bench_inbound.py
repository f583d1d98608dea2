"""The inbound benchmark sends what Twilio would: signed STOPs, each from a number not seen before.

Only the requests are checked here; the benchmark itself runs on demand (DESIGN.md).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from bench.inbound import AUTH_TOKEN, SIGNATURE, signed_texts
from store.addresses import normalise_phone

URL = "http://127.0.0.1:8080/twilio/sms"
GUESTS = ["+12015550101", "+12015550103"]


def test_each_text_is_signed_for_the_server_url() -> None:
    validator = RequestValidator(AUTH_TOKEN)
    for text in signed_texts(URL, 60, GUESTS):
        form = dict(parse_qsl(text.body.decode()))
        assert validator.validate(URL, form, text.headers[SIGNATURE])
        assert (form["Body"], form["From"]) == ("STOP", text.sender)


def test_senders_are_distinct_valid_numbers_and_include_the_guests() -> None:
    senders = [text.sender for text in signed_texts(URL, 25_000, GUESTS)]
    assert len(set(senders)) == len(senders)
    assert set(GUESTS) <= set(senders)
    # Stored as sent: the server's normal form of each is the number itself.
    assert all(normalise_phone(sender, "US") == sender for sender in senders[::499])

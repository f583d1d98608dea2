"""Personal data out of text that leaves for operators or error reports: phone numbers,
email addresses and the tokens in guests' links become placeholders.

Patterns, not a parser: an error message from a provider ("The 'To' number
+14155550100 is not a valid phone number") is free text. They err on the
side of hiding: a long run of digits is taken for a number.
"""

from __future__ import annotations

import re

EMAIL = "[email]"
PHONE = "[phone]"
TOKEN = "[token]"  # noqa: S105 (a placeholder, not a secret)

_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONES = (
    # E.164 and international forms: +14155550100, +44 20 7946 0958, +1 (415) 555-0100
    re.compile(r"\+\d(?:[ ().-]{0,2}\d){6,14}"),
    # North American forms: (415) 555-0100, 415-555-0100, 415.555.0100
    re.compile(r"(?<!\d)\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}(?!\d)"),
    # Bare digit runs long enough to be a number: 4155550100
    re.compile(r"(?<![\d.])\d{10,15}(?![\d.])"),
)
# Guests' links carry signed tokens naming them: /u/…, /t/o/…, /t/c/…
_LINK_TOKEN = re.compile(r"(/(?:u|t/o|t/c)/)[A-Za-z0-9_.=-]{8,}")


def redact(text: str) -> str:
    text = _EMAIL.sub(EMAIL, text)
    for pattern in _PHONES:
        text = pattern.sub(PHONE, text)
    return _LINK_TOKEN.sub(lambda m: m.group(1) + TOKEN, text)

"""The SMS a guest receives: who it is from first, how to stop last (CTIA)."""

from __future__ import annotations

import re

STOP_NOTICE = "Reply STOP to opt out."
# The notice must close the message, in these words; anywhere else, or
# phrased otherwise ("do not reply stop"), it does not count.
_ENDS_WITH_NOTICE = re.compile(r"reply stop to opt out\.?\s*$", re.IGNORECASE)


def compose_sms(sender: str, body: str) -> str:
    """``Evergreen Weddings: <body>`` + the opt-out notice, each added only if missing."""
    text = " ".join(line.strip() for line in body.strip().splitlines() if line.strip())
    if not text.lower().startswith(sender.lower()):
        text = f"{sender}: {text}"
    if not _ENDS_WITH_NOTICE.search(text):
        text = f"{text} {STOP_NOTICE}"
    return text

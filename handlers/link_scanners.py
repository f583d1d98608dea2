"""Telling a guest's open or click from a machine's: security scanners, previews, prefetchers.

Mail-security gateways (Microsoft Defender Safe Links, Proofpoint, Mimecast,
Barracuda, …) fetch every link and image of a message as it arrives, before
any person sees it. They are recognised by their user agent where they send
one of their own, and — for clicks, which a person cannot make seconds after
the message left — by timing. Such requests are kept (to be looked at) but
not counted.

Google's image proxy ("GoogleImageProxy") is counted as an open: Gmail
fetches the image through it when the guest opens the message. Apple Mail
Privacy Protection prefetches every image with an ordinary browser user
agent and cannot be told apart: open rates include it (the README says so).
"""

from __future__ import annotations

from datetime import datetime, timedelta

SCANNER = "scanner"
TOO_SOON = "too_soon"
# No person clicks a link this soon after the email left us.
CLICK_GRACE = timedelta(seconds=10)

# Lowercase fragments of user agents that are machines, never a guest.
_SCANNER_AGENTS = (
    "safelinks",
    "microsoft defender",
    "bingpreview",
    "microsoft office existence discovery",
    "ms-office",
    "proofpoint",
    "ppops",
    "mimecast",
    "barracuda",
    "messagelabs",
    "symantec",
    "ironport",
    "fireeye",
    "trendmicro",
    "forcepoint",
    "sophos",
    "zscaler",
    "headlesschrome",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "curl/",
    "wget/",
    "slackbot",
    "facebookexternalhit",
    "bot/",
    "crawler",
    "spider",
)


def ignored_because(
    kind: str, user_agent: str, sent_at: datetime | None, now: datetime
) -> str | None:
    """Why this request does not count; None when it counts as the guest's."""
    agent = user_agent.strip().lower()
    # A person's mail app or browser always names itself.
    if not agent or any(fragment in agent for fragment in _SCANNER_AGENTS):
        return SCANNER
    if kind == "click" and sent_at is not None and now - sent_at < CLICK_GRACE:
        return TOO_SOON
    return None

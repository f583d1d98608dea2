"""Open and click tracking put into an email's HTML: a 1×1 image and links through ``/t/c``.

Only the HTML part changes. The plain-text part keeps the planner's links as
written (it has no image, and a guest reading text sees the real address),
and the footer's unsubscribe link is never rewritten: unsubscribing must not
depend on, or be counted by, tracking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape, unescape

from dispatch.compose.tracking_tokens import TrackingTokens, trackable

# The sanitiser writes every attribute double-quoted with its entities
# escaped, so an href is always this shape.
_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Tracking:
    """Tracking of one delivery's email."""

    tokens: TrackingTokens
    public_base_url: str
    delivery_id: int

    def open_url(self) -> str:
        return f"{self.public_base_url}/t/o/{self.tokens.open_token(self.delivery_id)}"

    def click_url(self, url: str) -> str:
        return f"{self.public_base_url}/t/c/{self.tokens.click_token(self.delivery_id, url)}"


def add_tracking(fragment: str, tracking: Tracking) -> str:
    """The sanitised HTML fragment with its web links rewritten and the image appended."""

    def rewrite(match: re.Match[str]) -> str:
        url = unescape(match.group(2))
        if not trackable(url):
            return match.group(0)
        return match.group(1) + escape(tracking.click_url(url)) + match.group(3)

    # alt="" marks the image as decorative: screen readers skip it.
    pixel = (
        f'<img src="{escape(tracking.open_url())}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0">'
    )
    return _HREF.sub(rewrite, fragment) + "\n" + pixel

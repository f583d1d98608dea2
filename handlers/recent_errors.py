"""Requests this web process refused or failed: every 5xx, and 4xx on webhooks
(a provider's signature refused, a malformed callback) — kept in memory,
the newest few hundred, for ``GET /api/admin/errors``. Nothing personal is
kept: the route's pattern, never the path (tokens) or the body.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

# Routes whose callers are machines: their 4xx mean an integration is broken.
WEBHOOK_PREFIXES = ("/twilio/", "/email/", "/slack/")


@dataclass(frozen=True, slots=True)
class HttpError:
    at: datetime
    method: str
    route: str
    status: int
    request_id: str


@dataclass
class RecentErrors:
    size: int = 200
    _errors: deque[HttpError] = field(init=False)

    def __post_init__(self) -> None:
        self._errors = deque(maxlen=self.size)

    def record(self, error: HttpError) -> None:
        if error.status >= 500 or (
            error.status >= 400 and error.route.startswith(WEBHOOK_PREFIXES)
        ):
            self._errors.append(error)

    def newest(self, limit: int) -> list[HttpError]:
        return list(reversed(self._errors))[:limit]

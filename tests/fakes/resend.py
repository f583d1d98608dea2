"""A fake of Resend's email API that honours Idempotency-Key, as Resend does: the same key
with the same body answers the first result again; with another body, 409. It can
also answer 429 as Resend does past a team's rate, with Retry-After."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dispatch.compose.email_message import EmailContent, Envelope, Footer, build_email
from dispatch.providers.base import OutgoingEmail
from store.models.base import utcnow

API_KEY = "re_test_key"


@dataclass
class ResendFake:
    emails: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    # The next this many requests answer 429 (Resend's rate limit), with this Retry-After.
    rate_limited: int = 0
    retry_after: str = "1"
    # What the 429 says it is: the rate, or a used-up quota (``daily_quota_exceeded``).
    refusal: str = "rate_limit_exceeded"
    rejected_429: int = 0
    _answers: dict[str, tuple[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stop_limiting(self) -> None:
        """From now on, every request is taken (under the lock the server thread uses)."""
        with self._lock:
            self.rate_limited = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/emails", self._email)
        return app

    async def _email(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"message": "API key is invalid"}, status=401)
        body = await request.text()
        payload = json.loads(body)
        if not isinstance(payload, dict) or not payload.get("to"):
            return web.json_response({"message": "`to` is missing"}, status=422)
        key = request.headers.get("Idempotency-Key", "")
        with self._lock:
            self.requests += 1
            if self.rate_limited > 0:
                self.rate_limited -= 1
                self.rejected_429 += 1
                return web.json_response(
                    {
                        "statusCode": 429,
                        "name": self.refusal,
                        "message": "Too many requests. You can only make 2 requests per second.",
                    },
                    status=429,
                    headers={"Retry-After": self.retry_after},
                )
            if key in self._answers:
                first_id, first_body = self._answers[key]
                if first_body != body:
                    return web.json_response(
                        {"message": "idempotency key reused with another body"}, status=409
                    )
                return web.json_response({"id": first_id})
            message_id = str(uuid.uuid4())
            self.emails.append(payload)
            if key:
                self._answers[key] = (message_id, body)
        return web.json_response({"id": message_id})


def sample_email(n: int) -> OutgoingEmail:
    """The n-th guest's campaign email, as a batch hands it to the provider (keyed by
    its delivery)."""
    message = build_email(
        EmailContent(f"Hello {n}", f"Text {n}", f"<p>Text {n}</p>"),
        Envelope(
            from_name="Evergreen Weddings",
            from_address="hello@evergreen.example.com",
            to_name="Zoë",
            to_address=f"guest{n}@example.com",
            message_id=f"<gc.1.{n}@evergreen.example.com>",
            date=utcnow(),
            unsubscribe_url=f"https://comms.example.com/u/t{n}",
            unsubscribe_mailto="mailto:hello@evergreen.example.com?subject=unsubscribe",
            lang="en-US",
        ),
        Footer("Evergreen", "1 Main St", "Alex & Sam", "June 12", "https://comms.example.com/u/t"),
    )
    return OutgoingEmail(message, idempotency_key=f"delivery-{n}")

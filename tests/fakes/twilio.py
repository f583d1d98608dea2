"""A fake of Twilio's Messages REST API: records every message, and misbehaves on request.

Served by aiohttp on a free port; the official ``twilio`` client reaches it
through TWILIO_API_URL. It checks the account's basic auth, enforces a
messages-per-second limit per sender with 429/20429 when asked, fails or
drops responses on demand, and answers message-list queries (To, DateSent>).
When asked, it reports each message's delivery to its StatusCallback — signed
as Twilio signs, and before it answers the request that sent it, as the real
Twilio sometimes does.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import BasicAuth, web
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@dataclass
class FakeMessage:
    sid: str
    to: str
    sender: str
    body: str
    status_callback: str | None
    created: datetime
    # The fake cut the connection instead of answering (the client saw an error).
    answer_dropped: bool = False

    def resource(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": ACCOUNT_SID,
            "to": self.to,
            "from": self.sender,
            "messaging_service_sid": self.sender if self.sender.startswith("MG") else None,
            "body": self.body,
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": format_datetime(self.created),
            "date_updated": format_datetime(self.created),
            "date_sent": None,
            "uri": f"{MESSAGES[:-5]}/{self.sid}.json",
        }


@dataclass
class TwilioFake:
    """Thread-safe: workers on other event loops and threads call it over HTTP."""

    messages: list[FakeMessage] = field(default_factory=list)
    requests: int = 0
    rejected_429: int = 0
    # Messages per second allowed per sender; None: unlimited.
    mps: float | None = None
    # Numbers Twilio refuses, with (HTTP status, error code).
    refuse: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Every create fails with this HTTP status while set (outage).
    failing_status: int | None = None
    fail_next: int = 0
    # The next creates answered 429 / 20429 whatever the rate (another sender's burst).
    busy_next: int = 0
    # Every create answered 429 while set: a test holds a send back (each text waits
    # for its sender's next turn) until it is ready to watch it go.
    holding: bool = False
    # Probability of accepting a message and then dropping the response.
    drop_after_accept: float = 0.0
    # Accept at once, answer this much later (a slow Twilio).
    answer_delay: float = 0.0
    # Where status callbacks go (the StatusCallback's path on this base URL, since
    # its own host is the public one); None: no callbacks.
    report_to: str | None = None
    reported: list[tuple[str, int]] = field(default_factory=list)  # (sid, HTTP status)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _recent: defaultdict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _random: random.Random = field(default_factory=lambda: random.Random(7))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(MESSAGES, self._create)
        app.router.add_get(MESSAGES, self._list)
        return app

    def sent_to(self, number: str) -> list[FakeMessage]:
        with self._lock:
            return [m for m in self.messages if m.to == number]

    def bodies_by_number(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = defaultdict(int)
            for message in self.messages:
                counts[message.to] += 1
            return dict(counts)

    def _authorised(self, request: web.Request) -> bool:
        try:
            auth = BasicAuth.decode(request.headers.get("Authorization", ""))
        except ValueError:
            return False
        return bool(auth.login == ACCOUNT_SID and auth.password == AUTH_TOKEN)

    async def _create(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate")
        form = await request.post()
        to = str(form.get("To", ""))
        sender = str(form.get("MessagingServiceSid") or form.get("From") or "")
        with self._lock:
            # One stamp for the window and the record, so the recorded arrivals
            # are exactly what the window judged.
            arrived = time.time()
            self.requests += 1
            if self.failing_status is not None:
                return _error(self.failing_status, 20500, "Service unavailable")
            if self.fail_next > 0:
                self.fail_next -= 1
                return _error(500, 20500, "Internal error")
            if (
                self.holding
                or self.busy_next > 0
                or (self.mps is not None and not self._within_rate(sender, arrived))
            ):
                self.busy_next = max(0, self.busy_next - 1)
                self.rejected_429 += 1
                return _error(429, 20429, "Too Many Requests")
            if to in self.refuse:
                status, code = self.refuse[to]
                return _error(
                    status, code, _REFUSALS.get(code, "Refused ({code})").format(to=to, code=code)
                )
            message = FakeMessage(
                sid="SM" + uuid.uuid4().hex,
                to=to,
                sender=sender,
                body=str(form.get("Body", "")),
                status_callback=str(form.get("StatusCallback") or "") or None,
                created=datetime.fromtimestamp(arrived, UTC),
            )
            self.messages.append(message)
            drop = self._random.random() < self.drop_after_accept
            message.answer_dropped = drop
        if self.report_to and message.status_callback:
            await self._report_delivered(message)
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        if drop:
            # Accepted, but the answer never arrives: the connection is cut.
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPInternalServerError()
        return web.json_response(message.resource(), status=201)

    async def _report_delivered(self, message: FakeMessage) -> None:
        """Twilio's status callback: a form signed over the StatusCallback URL."""
        assert self.report_to is not None
        assert message.status_callback is not None
        form = {
            "MessageSid": message.sid,
            "MessageStatus": "delivered",
            "AccountSid": ACCOUNT_SID,
            "To": message.to,
            "From": message.sender,
        }
        signature = RequestValidator(AUTH_TOKEN).compute_signature(message.status_callback, form)
        target = self.report_to + urlsplit(message.status_callback).path
        async with (
            aiohttp.ClientSession() as session,
            session.post(target, data=form, headers={"X-Twilio-Signature": signature}) as answer,
        ):
            self.reported.append((message.sid, answer.status))

    def _within_rate(self, sender: str, now: float) -> bool:
        """At most ``mps`` texts from one sender within any one second (sliding)."""
        assert self.mps is not None
        window = self._recent[sender]
        while window and window[0] <= now - 1:
            window.popleft()
        if len(window) >= self.mps:
            return False
        window.append(now)
        return True

    async def _list(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate")
        to = request.query.get("To")
        after_text = request.query.get("DateSent>")
        after = (
            datetime.strptime(after_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            if after_text
            else None
        )
        with self._lock:
            found = [
                m.resource()
                for m in reversed(self.messages)
                if (to is None or m.to == to) and (after is None or m.created >= after)
            ]
        return web.json_response(
            {
                "messages": found,
                "end": max(0, len(found) - 1),
                "first_page_uri": MESSAGES,
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": max(50, len(found)),
                "start": 0,
                "uri": MESSAGES,
            }
        )


# Twilio's own wording where it names the number (what guestcomms then records and logs).
_REFUSALS = {
    21211: "The 'To' number {to} is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
}


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {"code": code, "message": message, "more_info": "", "status": status}, status=status
    )

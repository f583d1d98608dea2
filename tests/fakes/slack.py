"""A fake of Slack's Web API: records ``chat.postMessage`` and ``chat.update``, and
keeps each channel's messages as they now read.

Served by aiohttp on a free port; ``slack_sdk``'s clients reach it through
SLACK_API_URL (their ``base_url``). It checks the bot token as Slack does
(``invalid_auth`` in a 200 answer), refuses updates of messages it never saw,
and rate-limits on request with 429 and ``Retry-After``, as Slack does.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import BackgroundServer

BOT_TOKEN = "xoxb-test-bot-token"


@dataclass
class Call:
    method: str  # "chat.postMessage"
    payload: dict[str, Any]


@dataclass
class SlackFake:
    """Thread-safe: the app's loop, workers and tests may all call it."""

    token: str = BOT_TOKEN
    called: list[Call] = field(default_factory=list)
    # (channel, ts) → the message as it reads now (its latest text and blocks).
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _rate_limited: int = 0
    _retry_after: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/chat.postMessage", self._post_message)
        app.router.add_post("/api/chat.update", self._update)
        app.router.add_post("/api/auth.test", self._auth_test)
        return app

    def rate_limit_next(self, calls: int, retry_after: int = 1) -> None:
        """Answer the next ``calls`` requests 429 with Retry-After, as Slack's tiers do."""
        with self._lock:
            self._rate_limited, self._retry_after = calls, retry_after

    def payloads(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [call.payload for call in self.called if call.method == method]

    def in_channel(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for (ch, _), m in self.messages.items() if ch == channel]

    async def _read(self, request: web.Request, method: str) -> dict[str, Any] | web.Response:
        with self._lock:
            if self._rate_limited:
                self._rate_limited -= 1
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(self._retry_after)},
                )
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if request.content_type == "application/json":
            payload: dict[str, Any] = await request.json()
        else:
            payload = dict(await request.post())
        with self._lock:
            self.called.append(Call(method, payload))
        return payload

    async def _post_message(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "chat.postMessage")
        if isinstance(payload, web.Response):
            return payload
        channel = payload.get("channel")
        if not channel or not (payload.get("text") or payload.get("blocks")):
            return web.json_response(
                {"ok": False, "error": "no_text" if channel else "channel_not_found"}
            )
        with self._lock:
            ts = f"1700000000.{next(self._clock):06d}"
            message = {"ts": ts, **payload}
            self.messages[(channel, ts)] = message
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": message})

    async def _update(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "chat.update")
        if isinstance(payload, web.Response):
            return payload
        key = (str(payload.get("channel")), str(payload.get("ts")))
        with self._lock:
            if key not in self.messages:
                return web.json_response({"ok": False, "error": "message_not_found"})
            self.messages[key] = {**self.messages[key], **payload}
            message = self.messages[key]
        return web.json_response({"ok": True, "channel": key[0], "ts": key[1], "message": message})

    async def _auth_test(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "auth.test")
        if isinstance(payload, web.Response):
            return payload
        return web.json_response({"ok": True, "team_id": "T_TEST", "user_id": "U_BOT"})


@contextmanager
def running_slack() -> Iterator[tuple[SlackFake, str]]:
    """The fake on a free port, and the ``SLACK_API_URL`` that reaches it."""
    fake = SlackFake()
    with BackgroundServer(fake.app()) as server:
        yield fake, f"{server.url}/api/"

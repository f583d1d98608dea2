"""A fake of Slack's Web API: records ``chat.postMessage`` and ``chat.update``, and
keeps each channel's messages as they now read.

Served by aiohttp on a free port; ``slack_sdk``'s clients reach it through
SLACK_API_URL (their ``base_url``). It checks the bot token as Slack does
(``invalid_auth`` in a 200 answer), refuses updates of messages it never saw,
and rate-limits on request with 429 and ``Retry-After``, as Slack does.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import BackgroundServer

BOT_TOKEN = "xoxb-test-bot-token"
TEAM_ID = "T_TEST"
BOT_USER_ID = "U_BOT"


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
    # file id → (name, bytes), downloadable with the bot token.
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    # How many requests were answered 429 (rate_limit_next).
    throttled: int = 0
    _rate_limited: int = 0
    _retry_after: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/chat.postMessage", self._post_message)
        app.router.add_post("/api/chat.update", self._update)
        app.router.add_post("/api/auth.test", self._auth_test)
        app.router.add_post("/api/chat.postEphemeral", self._post_ephemeral)
        app.router.add_post("/api/views.open", self._views_open)
        app.router.add_post("/api/views.update", self._views_update)
        app.router.add_post("/api/conversations.open", self._conversations_open)
        app.router.add_route("*", "/api/files.info", self._files_info)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        return app

    def share_file(self, file_id: str, name: str, content: bytes, base_url: str) -> dict[str, Any]:
        """A file as a message's ``files`` entry shows it; its bytes are served behind the
        bot token at ``url_private_download`` (``base_url`` is this fake's address)."""
        with self._lock:
            self.files[file_id] = (name, content)
        return {
            "id": file_id,
            "name": name,
            "filetype": name.rsplit(".", 1)[-1],
            "size": len(content),
            "url_private_download": f"{base_url}/files-pri/{file_id}/{name}",
        }

    def ephemerals(self, user: str | None = None) -> list[str]:
        """The texts only one person saw (errors, refusals), oldest first."""
        return [
            str(p.get("text", ""))
            for p in self.payloads("chat.postEphemeral")
            if user is None or p.get("user") == user
        ]

    def texts(self, channel: str | None = None) -> list[str]:
        """Every posted message's text as it reads now, in posting order."""
        with self._lock:
            return [
                str(m.get("text", ""))
                for (ch, _), m in sorted(self.messages.items(), key=lambda item: item[0][1])
                if channel is None or ch == channel
            ]

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
                self.throttled += 1
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(self._retry_after)},
                )
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if request.method == "GET":
            payload: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            payload = await request.json()
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
        return web.json_response(
            {"ok": True, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B_BOT"}
        )

    async def _post_ephemeral(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "chat.postEphemeral")
        if isinstance(payload, web.Response):
            return payload
        if not payload.get("channel") or not payload.get("user"):
            return web.json_response({"ok": False, "error": "channel_not_found"})
        return web.json_response({"ok": True, "message_ts": f"1700000000.{next(self._clock):06d}"})

    async def _views_open(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "views.open")
        if isinstance(payload, web.Response):
            return payload
        if not payload.get("trigger_id"):
            return web.json_response({"ok": False, "error": "invalid_trigger_id"})
        view = payload["view"] if isinstance(payload["view"], dict) else json.loads(payload["view"])
        with self._lock:
            view_id = f"V{next(self._clock):08d}"
            self.views[view_id] = {"id": view_id, **view}
        return web.json_response({"ok": True, "view": self.views[view_id]})

    async def _views_update(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "views.update")
        if isinstance(payload, web.Response):
            return payload
        view_id = str(payload.get("view_id"))
        with self._lock:
            if view_id not in self.views:
                return web.json_response({"ok": False, "error": "not_found"})
            view = (
                payload["view"]
                if isinstance(payload["view"], dict)
                else json.loads(payload["view"])
            )
            self.views[view_id] = {"id": view_id, **view}
        return web.json_response({"ok": True, "view": self.views[view_id]})

    async def _conversations_open(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "conversations.open")
        if isinstance(payload, web.Response):
            return payload
        users = str(payload.get("users", ""))
        # A direct message channel per user, as Slack's D… ids.
        return web.json_response({"ok": True, "channel": {"id": f"D_{users}"}})

    async def _files_info(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "files.info")
        if isinstance(payload, web.Response):
            return payload
        file_id = str(payload.get("file", ""))
        with self._lock:
            found = self.files.get(file_id)
        if found is None:
            return web.json_response({"ok": False, "error": "file_not_found"})
        name, content = found
        base = str(request.url.origin())
        return web.json_response(
            {
                "ok": True,
                "file": {
                    "id": file_id,
                    "name": name,
                    "size": len(content),
                    "url_private_download": f"{base}/files-pri/{file_id}/{name}",
                },
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        # Slack's file host wants the bot token; without it, a login page (not the file).
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(text="<html>sign in</html>", content_type="text/html")
        with self._lock:
            found = self.files.get(request.match_info["file_id"])
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(body=found[1], content_type="text/csv")


@contextmanager
def running_slack() -> Iterator[tuple[SlackFake, str]]:
    """The fake on a free port, and the ``SLACK_API_URL`` that reaches it."""
    fake = SlackFake()
    with BackgroundServer(fake.app()) as server:
        yield fake, f"{server.url}/api/"

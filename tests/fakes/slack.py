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

from aiohttp import BasicAuth, web

from tests.fakes.server import BackgroundServer

BOT_TOKEN = "xoxb-test-bot-token"
TEAM_ID = "T_TEST"
BOT_USER_ID = "U_BOT"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "test-client-secret"


@dataclass
class Call:
    method: str  # "chat.postMessage"
    payload: dict[str, Any]
    token: str = ""


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
    # file id → a download URL files.info names instead of this fake's own (another host).
    file_urls: dict[str, str] = field(default_factory=dict)
    # file id → what files_upload_v2 uploaded: name, title, content, channel, comment.
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    # OAuth: code → (team id, team name, installer) that oauth.v2.access exchanges once;
    # bot token → team id of every workspace that installed the app.
    oauth_codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    team_tokens: dict[str, str] = field(default_factory=dict)
    # Channels the bot is not in: chat.postEphemeral answers channel_not_found there.
    not_in_channels: set[str] = field(default_factory=set)
    # What arrived at /commands/response (a slash command's response_url).
    responses: list[dict[str, Any]] = field(default_factory=list)
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
        app.router.add_post("/api/files.getUploadURLExternal", self._upload_url)
        app.router.add_post("/upload/v1/{file_id}", self._receive_upload)
        app.router.add_post("/api/files.completeUploadExternal", self._complete_upload)
        app.router.add_post("/api/oauth.v2.access", self._oauth_access)
        app.router.add_post("/commands/response", self._response_url)
        return app

    def add_install_code(self, code: str, team_id: str, team_name: str, installer: str) -> None:
        """A code Slack would hand the installer's browser after they approve the app."""
        with self._lock:
            self.oauth_codes[code] = (team_id, team_name, installer)

    def tokens_used(self, method: str) -> list[str]:
        """The bearer token of each call to ``method``, oldest first."""
        with self._lock:
            return [call.token for call in self.called if call.method == method]

    def share_file(
        self,
        file_id: str,
        name: str,
        content: bytes,
        base_url: str,
        download_url: str | None = None,
    ) -> dict[str, Any]:
        """A file as a message's ``files`` entry shows it; its bytes are served behind the
        bot token at ``url_private_download`` (``base_url`` is this fake's address), or
        files.info names ``download_url`` instead."""
        with self._lock:
            self.files[file_id] = (name, content)
            if download_url is not None:
                self.file_urls[file_id] = download_url
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
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            known = token == self.token or token in self.team_tokens
        if not known:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        payload: dict[str, Any] = dict(request.query)
        if request.method != "GET":
            if request.content_type == "application/json":
                payload.update(await request.json())
            else:
                payload.update(await request.post())
        with self._lock:
            self.called.append(Call(method, payload, token))
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
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            team = self.team_tokens.get(token, TEAM_ID)
        return web.json_response(
            {"ok": True, "team_id": team, "user_id": BOT_USER_ID, "bot_id": f"B_{team}"}
        )

    async def _post_ephemeral(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "chat.postEphemeral")
        if isinstance(payload, web.Response):
            return payload
        if not payload.get("channel") or not payload.get("user"):
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if payload["channel"] in self.not_in_channels:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        return web.json_response({"ok": True, "message_ts": f"1700000000.{next(self._clock):06d}"})

    async def _response_url(self, request: web.Request) -> web.Response:
        """A response_url takes JSON without a token (its URL is the credential)."""
        payload = await request.json()
        with self._lock:
            self.responses.append(payload)
        return web.Response(text="ok")

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
        with self._lock:
            url = self.file_urls.get(file_id, f"{base}/files-pri/{file_id}/{name}")
        return web.json_response(
            {
                "ok": True,
                "file": {
                    "id": file_id,
                    "name": name,
                    "size": len(content),
                    "url_private_download": url,
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

    async def _upload_url(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "files.getUploadURLExternal")
        if isinstance(payload, web.Response):
            return payload
        if not payload.get("filename") or not str(payload.get("length", "")).isdigit():
            return web.json_response({"ok": False, "error": "invalid_arguments"})
        with self._lock:
            file_id = f"F_UP{next(self._clock):06d}"
            self.uploads[file_id] = {
                "name": payload["filename"],
                "content": None,
                # Slack keeps the alt text of an image for screen readers.
                "alt_txt": payload.get("alt_txt"),
            }
        upload_url = f"{request.url.origin()}/upload/v1/{file_id}"
        return web.json_response({"ok": True, "upload_url": upload_url, "file_id": file_id})

    async def _receive_upload(self, request: web.Request) -> web.Response:
        # Slack's upload URLs are pre-signed: no token, the bytes as the body.
        file_id = request.match_info["file_id"]
        body = await request.read()
        with self._lock:
            if file_id not in self.uploads:
                raise web.HTTPNotFound()
            self.uploads[file_id]["content"] = body
        return web.Response(text=f"OK - {len(body)}")

    async def _complete_upload(self, request: web.Request) -> web.Response:
        payload = await self._read(request, "files.completeUploadExternal")
        if isinstance(payload, web.Response):
            return payload
        files = json.loads(str(payload.get("files", "[]")))
        channel = str(payload.get("channel_id", ""))
        with self._lock:
            if not files or any(
                self.uploads.get(f["id"], {}).get("content") is None for f in files
            ):
                return web.json_response({"ok": False, "error": "file_not_found"})
            for entry in files:
                self.uploads[entry["id"]].update(
                    title=entry.get("title"),
                    channel=channel,
                    thread_ts=payload.get("thread_ts"),
                    comment=payload.get("initial_comment"),
                )
            if channel:
                # Slack shares the files in a message that carries the comment.
                ts = f"1700000000.{next(self._clock):06d}"
                self.messages[(channel, ts)] = {
                    "ts": ts,
                    "text": payload.get("initial_comment", ""),
                    "thread_ts": payload.get("thread_ts"),
                    "files": [f["id"] for f in files],
                }
        return web.json_response(
            {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        )

    async def _oauth_access(self, request: web.Request) -> web.Response:
        # The app authenticates with its client id and secret (HTTP Basic), not a token.
        expected = BasicAuth(CLIENT_ID, CLIENT_SECRET).encode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"ok": False, "error": "invalid_client_id"})
        payload = dict(request.query) | dict(await request.post())
        with self._lock:
            found = self.oauth_codes.pop(str(payload.get("code", "")), None)
            self.called.append(Call("oauth.v2.access", payload))
            if found is None:
                return web.json_response({"ok": False, "error": "invalid_code"})
            team_id, team_name, installer = found
            token = f"xoxb-{team_id}-{next(self._clock)}"
            self.team_tokens[token] = team_id
        return web.json_response(
            {
                "ok": True,
                "app_id": "A_TEST",
                "access_token": token,
                "token_type": "bot",
                "scope": "commands,chat:write,files:read,files:write",
                "bot_user_id": BOT_USER_ID,
                "team": {"id": team_id, "name": team_name},
                "enterprise": None,
                "is_enterprise_install": False,
                "authed_user": {"id": installer},
            }
        )


@contextmanager
def running_slack() -> Iterator[tuple[SlackFake, str]]:
    """The fake on a free port, and the ``SLACK_API_URL`` that reaches it."""
    fake = SlackFake()
    with BackgroundServer(fake.app()) as server:
        yield fake, f"{server.url}/api/"

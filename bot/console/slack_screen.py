"""Slack's Web API, in process, printing what the bot says to the terminal.

The bot's real ``AsyncWebClient`` is pointed here (SLACK_API_URL). Messages
and updates are printed with their buttons as numbered choices; modals are
queued for the console to ask field by field. Only the methods the bot uses
are served; any other answers ``unknown_method`` as Slack does.
"""

from __future__ import annotations

import hmac
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.console.output import Output
from bot.console.terminal_text import buttons_of, message_lines, readable

TEAM_ID = "T_CONSOLE"
BOT_USER_ID = "U_GUESTCOMMS"


@dataclass
class Button:
    label: str
    action_id: str
    value: str
    block_id: str
    channel: str
    message_ts: str
    thread_ts: str | None


@dataclass
class SlackScreen:
    """What the console shows; ``write`` prints a block of lines."""

    token: str
    output: Output
    team_id: str = TEAM_ID
    names: dict[str, str] = field(default_factory=dict)  # user id → display name
    buttons: list[Button] = field(default_factory=list)
    # The thread the bot last spoke in: plain lines answer there.
    thread: tuple[str, str] | None = None
    views: list[dict[str, Any]] = field(default_factory=list)
    texts: dict[tuple[str, str], str] = field(default_factory=dict)
    base_url: str = ""  # where this server listens, for upload URLs
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        for method, handler in (
            ("auth.test", self._auth_test),
            ("chat.postMessage", self._post_message),
            ("chat.update", self._update),
            ("chat.postEphemeral", self._post_ephemeral),
            ("conversations.open", self._conversations_open),
            ("views.open", self._views_open),
            ("views.update", self._views_update),
            ("views.push", self._views_open),
            ("files.getUploadURLExternal", self._upload_url),
            ("files.completeUploadExternal", self._complete_upload),
        ):
            app.router.add_route("*", f"/api/{method}", self._checked(handler))
        app.router.add_post("/upload/{file_id}", self._receive_upload)
        app.router.add_route("*", "/api/{method}", self._unknown)
        return app

    def _checked(
        self, handler: Callable[[dict[str, Any]], web.Response]
    ) -> Callable[[web.Request], Any]:
        async def answer(request: web.Request) -> web.Response:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, f"Bearer {self.token}".encode()):
                return web.json_response({"ok": False, "error": "invalid_auth"})
            # Slack reads arguments from the query string as well as the body
            # (slack_sdk sends some there, conversations.open's users among them).
            payload: dict[str, Any] = dict(request.query)
            if request.method != "GET":
                if request.content_type == "application/json":
                    payload.update(await request.json())
                else:
                    payload.update(await request.post())
            return handler(payload)

        return answer

    def _ts(self) -> str:
        return f"1700000000.{next(self._clock):06d}"

    def _auth_test(self, _payload: dict[str, Any]) -> web.Response:
        return web.json_response(
            {"ok": True, "team_id": self.team_id, "user_id": BOT_USER_ID, "bot_id": "B_GUESTCOMMS"}
        )

    def _post_message(self, payload: dict[str, Any]) -> web.Response:
        channel = str(payload.get("channel") or "")
        if not channel:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        ts = self._ts()
        thread_ts = payload.get("thread_ts") or None
        self._show(channel, ts, thread_ts, payload, "")
        if thread_ts:
            self.thread = (channel, str(thread_ts))
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": payload})

    def _update(self, payload: dict[str, Any]) -> web.Response:
        channel, ts = str(payload.get("channel")), str(payload.get("ts"))
        if (channel, ts) not in self.texts:
            return web.json_response({"ok": False, "error": "message_not_found"})
        if self.texts[(channel, ts)] != payload.get("text"):
            self._show(channel, ts, None, payload, "(updated) ")
        return web.json_response({"ok": True, "channel": channel, "ts": ts})

    def _post_ephemeral(self, payload: dict[str, Any]) -> web.Response:
        user = self.names.get(str(payload.get("user")), str(payload.get("user")))
        text = readable(str(payload.get("text", "")), self.names)
        ts = self._ts()
        blocks = payload.get("blocks")
        found = buttons_of(json.loads(blocks) if isinstance(blocks, str) else blocks or [])
        if found:
            # A private question with buttons (erasing a person's data).
            channel, thread_ts = str(payload.get("channel")), payload.get("thread_ts")
            self.buttons = [
                Button(label, action, value, block, channel, ts, thread_ts)
                for label, action, value, block in found
            ]
            choices = "  ".join(f"[{n}] {b.label}" for n, b in enumerate(self.buttons, 1))
            text += f"\n{choices}   (type /click N)"
        self.output.write(f"(only {user} sees this) {text}")
        return web.json_response({"ok": True, "message_ts": ts})

    def _conversations_open(self, payload: dict[str, Any]) -> web.Response:
        return web.json_response({"ok": True, "channel": {"id": f"D_{payload.get('users')}"}})

    def _views_open(self, payload: dict[str, Any]) -> web.Response:
        view = payload.get("view")
        view = json.loads(view) if isinstance(view, str) else dict(view or {})
        view["id"] = f"V{next(self._clock):08d}"
        self.views.append(view)
        self.output.poke()  # the console asks its fields next
        return web.json_response({"ok": True, "view": view})

    def _views_update(self, payload: dict[str, Any]) -> web.Response:
        return self._views_open(payload)

    def _upload_url(self, payload: dict[str, Any]) -> web.Response:
        file_id = f"F{next(self._clock):08d}"
        return web.json_response(
            {"ok": True, "file_id": file_id, "upload_url": f"{self.base_url}/upload/{file_id}"}
        )

    def _complete_upload(self, payload: dict[str, Any]) -> web.Response:
        files = payload.get("files")
        files = json.loads(files) if isinstance(files, str) else files or []
        titles = ", ".join(str(f.get("title") or f.get("id")) for f in files)
        self.output.write(f"(file shared: {titles}; the console does not keep files)")
        if payload.get("initial_comment"):
            self.output.write(str(payload["initial_comment"]))
        return web.json_response({"ok": True, "files": files})

    async def _receive_upload(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="OK")

    async def _unknown(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "unknown_method"})

    def _show(
        self, channel: str, ts: str, thread_ts: Any, payload: dict[str, Any], prefix: str
    ) -> None:
        text = str(payload.get("text") or "")
        self.texts[(channel, ts)] = text
        blocks = payload.get("blocks")
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks or []
        found = buttons_of(blocks)
        where = self._where(channel, thread_ts)
        lines = message_lines(text, self.names)
        if channel.startswith("D_") and len(lines) > 1:
            # A private copy (an approver's card) repeats what the thread shows.
            lines = [lines[0] + " …"]
        if found:
            self.buttons = [
                Button(label, action, value, block, channel, ts, thread_ts)
                for label, action, value, block in found
            ]
            choices = "  ".join(f"[{n}] {b.label}" for n, b in enumerate(self.buttons, 1))
            lines.append(f"{choices}   (type /click N)")
        self.output.write(f"{prefix}{where}" + "\n".join(lines))

    def _where(self, channel: str, thread_ts: Any) -> str:
        if channel.startswith("D_"):
            user = channel.removeprefix("D_")
            return f"→ to {self.names.get(user, user)} privately: "
        return "  ↳ " if thread_ts else ""

"""A Sentry ingestion endpoint on 127.0.0.1: what sentry-sdk sends, as it arrives."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PUBLIC_KEY = "0123456789abcdef0123456789abcdef"
PROJECT = "42"


@dataclass
class SentryFake:
    # Each envelope's items: (headers, payload) with JSON payloads decoded.
    items: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/api/{PROJECT}/envelope/", self._envelope)
        return app

    def dsn(self, url: str) -> str:
        host = url.removeprefix("http://")
        return f"http://{PUBLIC_KEY}@{host}/{PROJECT}"

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [payload for headers, payload in self.items if headers.get("type") == "event"]

    async def _envelope(self, request: web.Request) -> web.Response:
        if PUBLIC_KEY not in request.headers.get("X-Sentry-Auth", ""):
            return web.Response(status=401)
        body = await request.read()  # aiohttp has undone Content-Encoding already
        lines = body.split(b"\n")
        items = []
        index = 1  # the envelope's own header comes first
        while index < len(lines) and lines[index]:
            headers = json.loads(lines[index])
            payload = lines[index + 1]
            decoded = json.loads(payload) if payload.startswith(b"{") else payload
            items.append((headers, decoded))
            index += 2
        with self._lock:
            self.raw.append(body)
            self.items.extend(items)
        return web.json_response({"id": "0" * 32})

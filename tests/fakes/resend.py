"""A fake of Resend's batch email API that honours Idempotency-Key, as Resend does."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "re_test_key"


@dataclass
class ResendFake:
    emails: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    _answers: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/emails/batch", self._batch)
        return app

    async def _batch(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"message": "API key is invalid"}, status=401)
        payload = await request.json()
        if not isinstance(payload, list) or not payload or len(payload) > 100:
            return web.json_response({"message": "send 1 to 100 emails"}, status=422)
        key = request.headers.get("Idempotency-Key", "")
        with self._lock:
            self.requests += 1
            if key and key in self._answers:
                ids = self._answers[key]
            else:
                ids = [str(uuid.uuid4()) for _ in payload]
                self.emails.extend(payload)
                if key:
                    self._answers[key] = ids
        return web.json_response({"data": [{"id": i} for i in ids]})

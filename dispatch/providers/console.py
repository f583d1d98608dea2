"""Console providers for a laptop: texts as lines, emails as .eml files under var/outbox/.

A planner can open exactly what a guest would get. Email is idempotent by
Message-ID, like a real mailbox: the same message twice is one file.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from dispatch.providers.base import Accepted, EmailSession, Outcome, OutgoingEmail, SentRecord
from store.models.base import utcnow


class ConsoleSms:
    name = "console"
    sender = "console"
    paced = False  # no carrier behind it

    def __init__(self, outbox: Path) -> None:
        self.log = outbox / "sms.jsonl"
        self._lock = asyncio.Lock()

    async def send_sms(self, to: str, body: str) -> Accepted:
        sid = f"SMconsole{uuid.uuid4().hex}"
        line = json.dumps(
            {"sid": sid, "to": to, "body": body, "at": utcnow().isoformat()}, ensure_ascii=False
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        return Accepted(sid)

    def _append(self, line: str) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    async def sent_to(self, to: str, since: datetime) -> Sequence[SentRecord]:
        if not self.log.exists():
            return []
        records = []
        for line in (await asyncio.to_thread(self.log.read_text, "utf-8")).splitlines():
            entry = json.loads(line)
            at = datetime.fromisoformat(entry["at"])
            if entry["to"] == to and at >= since:
                records.append(SentRecord(entry["sid"], entry["to"], entry["body"], at))
        return records

    async def close(self) -> None:
        return None


class ConsoleEmail:
    name = "console"
    idempotent = True  # one file per Message-ID

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    @asynccontextmanager
    async def session(self) -> AsyncIterator[EmailSession]:
        yield _ConsoleEmailSession(self.outbox)

    async def close(self) -> None:
        return None


class _ConsoleEmailSession:
    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    async def send_all(self, emails: Sequence[OutgoingEmail]) -> AsyncIterator[tuple[int, Outcome]]:
        for index, email in enumerate(emails):
            message_id = email.message_id
            await asyncio.to_thread(self._write, message_id, email.message.as_bytes())
            yield index, Accepted(message_id)

    def _write(self, message_id: str, raw: bytes) -> None:
        self.outbox.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9.@_-]", "", message_id) or uuid.uuid4().hex
        path = self.outbox / f"{name}.eml"
        if not path.exists():
            path.write_bytes(raw)

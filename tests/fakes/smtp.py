"""An SMTP sink (aiosmtpd) that records every message and can refuse addresses."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class SmtpSink:
    messages: list[EmailMessage] = field(default_factory=list)
    # The bytes as they arrived (what a receiver verifies DKIM against).
    raw: list[bytes] = field(default_factory=list)
    # Each message's MAIL FROM options (BODY=8BITMIME, SMTPUTF8…).
    mail_options: list[list[str]] = field(default_factory=list)
    # Addresses answered with a permanent or temporary refusal at RCPT.
    refuse: dict[str, str] = field(default_factory=dict)
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self._lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
            self.raw.append(bytes(envelope.content))
            self.mail_options.append(list(envelope.mail_options))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address in str(m["To"])]

    def message_ids(self) -> list[str]:
        with self._lock:
            return [str(m["Message-ID"]) for m in self.messages]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RunningSink:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink
        self.port = free_port()
        self._controller = Controller(sink, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> RunningSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

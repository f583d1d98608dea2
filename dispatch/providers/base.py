"""What every provider offers, and how its failures are told apart.

A provider either returns the id it gave the message, or raises
``ProviderError`` saying whether trying again could help (``transient``) and,
for permanent failures, whether the address itself is bad (``suppress``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from typing import Protocol

from dispatch.errors import DispatchError
from store.enums import SuppressionReason


class ProviderError(DispatchError):
    """A provider refused or failed a message."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        transient: bool,
        suppress: SuppressionReason | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient
        self.suppress = suppress
        # The request may have reached the provider (the answer was lost): ask
        # the provider before sending again, never just retry.
        self.ambiguous = ambiguous


class SenderBusy(ProviderError):
    """Refused for the sender's pace (Twilio's 429, 20429): not taken, and not the
    provider failing; the text takes the sender's next turn."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code, transient=True)


@dataclass(frozen=True, slots=True)
class Accepted:
    provider_message_id: str


@dataclass(frozen=True, slots=True)
class SentRecord:
    """A message the provider says it accepted, for the reconciler."""

    provider_message_id: str
    to: str
    body: str
    created_at: datetime | None


class SmsProvider(Protocol):
    name: str
    sender: str  # the number or messaging service texts go out from (pacing key)
    paced: bool  # whether a carrier's messages-per-second limit applies

    async def send_sms(self, to: str, body: str) -> Accepted: ...

    async def sent_to(self, to: str, since: datetime) -> Sequence[SentRecord]:
        """Messages accepted for ``to`` since ``since`` (used before any re-send)."""
        ...

    async def close(self) -> None: ...


Outcome = Accepted | ProviderError


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    message: Message
    # Stable per delivery: a re-send after a crash carries the same key (and
    # the same Message-ID), so an idempotent provider accepts it only once.
    idempotency_key: str


class EmailSession(Protocol):
    def send_all(self, emails: Sequence[OutgoingEmail]) -> AsyncIterator[tuple[int, Outcome]]:
        """Send in order, yielding (index, outcome) as each is known."""
        ...


class EmailProvider(Protocol):
    name: str
    # Whether sending the same message twice is harmless at the provider
    # (an idempotency key, or a mailbox keyed by Message-ID). When it is not,
    # each acceptance is recorded before the next message goes.
    idempotent: bool

    def session(self) -> AbstractAsyncContextManager[EmailSession]:
        """A connection for one batch: SMTP keeps one open across the batch's messages."""
        ...

    async def close(self) -> None: ...

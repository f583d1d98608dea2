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

from dispatch.compose.email_message import EmailParts
from dispatch.compose.email_wire import WireEmail, wire_email
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
    """Refused for the sender's pace (Twilio's 429, 20429; Resend's 429 rate limit): not
    taken, and not the provider failing. A text takes the sender's next turn; an email
    waits ``retry_after`` seconds (the provider's word, when it gave one)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        refusals: int = 1,
    ) -> None:
        super().__init__(message, code=code, transient=True)
        self.retry_after = retry_after
        self.refusals = refusals  # the provider's "too fast" answers behind this one


@dataclass(frozen=True, slots=True)
class Accepted:
    provider_message_id: str
    # Taken after the provider's rate limit refused it this many times, waited out
    # (seconds) inside the call: not the provider's latency.
    refusals: int = 0
    waited_seconds: float = 0.0


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


class OutgoingEmail:
    """One email to send: a ``Message``, or the parts it is built from when first asked
    for. From parts, SMTP sends bytes written straight from them (``wire``): a sixth
    of a campaign worker's CPU went into building and flattening the ``Message``."""

    __slots__ = ("_message", "_parts", "idempotency_key")

    def __init__(self, message: Message | EmailParts, idempotency_key: str) -> None:
        self._message: Message | None = message if isinstance(message, Message) else None
        self._parts: EmailParts | None = None if isinstance(message, Message) else message
        # Stable per delivery: a re-send after a crash carries the same key (and
        # the same Message-ID), so an idempotent provider accepts it only once.
        self.idempotency_key = idempotency_key

    @property
    def message(self) -> Message:
        if self._message is None:
            assert self._parts is not None
            self._message = self._parts.build()
        return self._message

    @property
    def message_id(self) -> str:
        if self._parts is not None:
            return self._parts.envelope.message_id
        return str(self.message["Message-ID"])

    def wire(self) -> WireEmail | None:
        """The bytes SMTP sends, written from the parts; None once the ``Message`` was
        asked for (it may have been changed since, e.g. signed) or when there are no
        parts: then it is the ``Message`` that goes."""
        if self._parts is None or self._message is not None:
            return None
        parts = self._parts
        return wire_email(parts.content, parts.envelope, parts.footer)


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

"""Email through Resend's HTTP batch API, idempotent per batch of deliveries."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from email.header import decode_header, make_header
from typing import Any

import aiohttp

from dispatch.compose.email_message import body_parts
from dispatch.providers.base import Accepted, EmailSession, Outcome, OutgoingEmail, ProviderError
from dispatch.settings import DispatchSettings
from store.enums import SuppressionReason

MAX_BATCH = 100
# Headers Resend sets itself; the rest (List-Unsubscribe, Message-ID…) travel as given.
_OWN_HEADERS = {
    "from",
    "to",
    "subject",
    "content-type",
    "mime-version",
    "content-transfer-encoding",
}


def _payload(email: OutgoingEmail) -> dict[str, Any]:
    message = email.message
    text, html = body_parts(message)
    return {
        "from": _decoded(message["From"]),
        "to": [_decoded(message["To"])],
        "subject": _decoded(message["Subject"]),
        "text": text,
        "html": html,
        "headers": {
            name: str(value) for name, value in message.items() if name.lower() not in _OWN_HEADERS
        },
    }


def _decoded(value: object) -> str:
    """A header as text: Resend takes UTF-8, not RFC 2047 encoded words."""
    return str(make_header(decode_header(str(value))))


def batch_key(emails: Sequence[OutgoingEmail]) -> str:
    """The same deliveries give the same key, so a retried batch is accepted once."""
    digest = hashlib.sha256("\n".join(sorted(e.idempotency_key for e in emails)).encode())
    return f"guestcomms-{digest.hexdigest()[:48]}"


class ResendEmail:
    name = "resend"
    idempotent = True  # Idempotency-Key per batch of deliveries

    def __init__(self, settings: DispatchSettings) -> None:
        assert settings.resend_api_key is not None
        self._url = settings.resend_api_url.rstrip("/") + "/emails/batch"
        self._key = settings.resend_api_key.get_secret_value()
        self._timeout = aiohttp.ClientTimeout(total=settings.provider_timeout_seconds)
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=self._timeout, headers={"Authorization": f"Bearer {self._key}"}
            )
        return self._http

    @asynccontextmanager
    async def session(self) -> AsyncIterator[EmailSession]:
        yield _ResendSession(self._session(), self._url)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


class _ResendSession:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self._http = http
        self._url = url

    async def send_all(self, emails: Sequence[OutgoingEmail]) -> AsyncIterator[tuple[int, Outcome]]:
        for start in range(0, len(emails), MAX_BATCH):
            chunk = emails[start : start + MAX_BATCH]
            for offset, outcome in enumerate(await self._post(chunk)):
                yield start + offset, outcome

    async def _post(self, chunk: Sequence[OutgoingEmail]) -> list[Outcome]:
        try:
            async with self._http.post(
                self._url,
                json=[_payload(email) for email in chunk],
                headers={"Idempotency-Key": batch_key(chunk)},
            ) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            failure = ProviderError(f"Resend did not answer: {error}", transient=True)
            return [failure] * len(chunk)
        if status >= 400:
            message = str(body.get("message", body)) if isinstance(body, dict) else str(body)
            transient = status == 429 or status >= 500
            failure = ProviderError(
                f"Resend {status}: {message}",
                code=str(status),
                transient=transient,
                suppress=SuppressionReason.INVALID
                if status == 422 and "email" in message
                else None,
            )
            return [failure] * len(chunk)
        ids = [item.get("id") for item in body.get("data", [])] if isinstance(body, dict) else []
        if len(ids) != len(chunk):
            failure = ProviderError("Resend answered with the wrong number of ids", transient=True)
            return [failure] * len(chunk)
        return [Accepted(str(message_id)) for message_id in ids]

"""Email over SMTP with aiosmtplib: one connection per batch, reused for all its messages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import aiosmtplib

from dispatch.providers.base import Accepted, EmailSession, Outcome, OutgoingEmail, ProviderError
from dispatch.settings import DispatchSettings
from store.enums import SuppressionReason

# RFC 3463: 5.1.x is a permanent addressing failure (no such user, bad domain).
_HARD_BOUNCE = re.compile(r"\b5\.1\.\d+\b")


def classify_smtp(code: int, message: str) -> ProviderError:
    if 400 <= code < 500:
        return ProviderError(f"SMTP {code}: {message}", code=str(code), transient=True)
    bounce = (code == 550 and "5.7" not in message) or bool(_HARD_BOUNCE.search(message))
    return ProviderError(
        f"SMTP {code}: {message}",
        code=str(code),
        transient=False,
        suppress=SuppressionReason.BOUNCE if bounce else None,
    )


class SmtpEmail:
    name = "smtp"
    idempotent = False  # a re-send is a second copy (with the same Message-ID)

    def __init__(self, settings: DispatchSettings) -> None:
        assert settings.smtp_host is not None
        self._settings = settings

    def _client(self) -> aiosmtplib.SMTP:
        settings = self._settings
        implicit_tls = settings.smtp_port == 465
        return aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            use_tls=implicit_tls,
            start_tls=settings.smtp_starttls and not implicit_tls,
            timeout=settings.provider_timeout_seconds,
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[EmailSession]:
        session = _SmtpSession(self._client)
        try:
            yield session
        finally:
            await session.close()

    async def close(self) -> None:
        return None


class _SmtpSession:
    def __init__(self, factory: Callable[[], aiosmtplib.SMTP]) -> None:
        self._factory = factory
        self._smtp: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._smtp is None or not self._smtp.is_connected:
            smtp = self._factory()
            await smtp.connect()
            self._smtp = smtp
        return self._smtp

    async def send_all(self, emails: Sequence[OutgoingEmail]) -> AsyncIterator[tuple[int, Outcome]]:
        for index, email in enumerate(emails):
            yield index, await self._send(email)

    async def _send(self, email: OutgoingEmail) -> Outcome:
        try:
            smtp = await self._connected()
            refused, _ = await smtp.send_message(email.message)
        except aiosmtplib.SMTPRecipientsRefused as error:
            first = error.recipients[0]
            return classify_smtp(first.code, first.message)
        except aiosmtplib.SMTPResponseException as error:
            return classify_smtp(error.code, error.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            # The connection broke: the next message opens a new one.
            self._smtp = None
            return ProviderError(f"SMTP connection failed: {error}", transient=True)
        if refused:
            response = next(iter(refused.values()))
            return classify_smtp(response.code, response.message)
        return Accepted(str(email.message["Message-ID"]))

    async def close(self) -> None:
        if self._smtp is not None and self._smtp.is_connected:
            try:
                await self._smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                self._smtp.close()
        self._smtp = None

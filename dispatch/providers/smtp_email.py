"""Email over SMTP with aiosmtplib: one connection per batch, reused for all its messages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import aiosmtplib

from dispatch.compose.email_wire import WireEmail
from dispatch.providers.base import Accepted, EmailSession, Outcome, OutgoingEmail, ProviderError
from dispatch.settings import DispatchSettings
from store.enums import SuppressionReason

# RFC 3463: the recipient's mailbox or domain does not exist (5.1.1, 5.1.2,
# 5.1.3, 5.1.6, 5.1.10). 5.1.7 and 5.1.8 are about *our* sender address.
_RECIPIENT_GONE = re.compile(r"\b5\.1\.(1|2|3|6|10)\b")
_SENDER_PROBLEM = re.compile(r"\b5\.1\.[78]\b|\bsender\b", re.IGNORECASE)
_NO_SUCH_USER = re.compile(
    r"user unknown|no such user|mailbox (unavailable|not found)|does not exist", re.IGNORECASE
)


def classify_smtp(code: int, message: str) -> ProviderError:
    """4xx: try later. Authentication and sender refusals are our problem: retried and
    counted by the breaker. A recipient who does not exist is a hard bounce that
    suppresses the address. Any other 5xx (spam policy, relay…): this message fails
    and the address stays."""
    text = f"SMTP {code}: {message}"
    if 400 <= code < 500 or code in {530, 535, 538}:
        return ProviderError(text, code=str(code), transient=True)
    if _SENDER_PROBLEM.search(message) and not _RECIPIENT_GONE.search(message):
        return ProviderError(text, code=str(code), transient=True)
    bounce = bool(_RECIPIENT_GONE.search(message)) or (
        code == 550 and bool(_NO_SUCH_USER.search(message))
    )
    return ProviderError(
        text,
        code=str(code),
        transient=False,
        suppress=SuppressionReason.BOUNCE if bounce else None,
    )


async def _mail_options(smtp: aiosmtplib.SMTP, wire: WireEmail) -> list[str]:
    """The MAIL FROM options ``send_message`` would give the same message: SMTPUTF8 for
    an address beyond ASCII, BODY=8BITMIME where the server offers it (after the
    EHLO, or HELO, they are read from)."""
    if smtp.is_ehlo_or_helo_needed:
        try:
            await smtp.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not smtp.is_connected:
                raise
            await smtp.helo()
    options = []
    if not (wire.sender + wire.recipient).isascii():
        if not smtp.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported(
                "An address containing non-ASCII characters was provided, but "
                "SMTPUTF8 is not supported by this server"
            )
        options.append("SMTPUTF8")
    if smtp.supports_extension("8BITMIME"):
        options.append("BODY=8BITMIME")
    return options


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
            wire = email.wire()
            if wire is None:
                refused, _ = await smtp.send_message(email.message)
            else:
                refused, _ = await smtp.sendmail(
                    wire.sender,
                    [wire.recipient],
                    wire.data,
                    mail_options=await _mail_options(smtp, wire),
                )
        except aiosmtplib.SMTPSenderRefused as error:
            return ProviderError(
                f"SMTP refused our sender: {error.code} {error.message}",
                code=str(error.code),
                transient=True,
            )
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
        return Accepted(email.message_id)

    async def close(self) -> None:
        if self._smtp is not None and self._smtp.is_connected:
            try:
                await self._smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                self._smtp.close()
        self._smtp = None

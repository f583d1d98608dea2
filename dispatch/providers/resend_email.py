"""Email through Resend's HTTP API, idempotent per delivery."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from email.header import decode_header, make_header
from typing import Any

import aiohttp

from dispatch.compose.email_message import body_parts
from dispatch.providers.base import (
    Accepted,
    EmailSession,
    Outcome,
    OutgoingEmail,
    ProviderError,
    SenderBusy,
)
from dispatch.settings import DispatchSettings

# Headers Resend sets itself; the rest (List-Unsubscribe, Message-ID…) travel as given.
_OWN_HEADERS = {
    "from",
    "to",
    "subject",
    "content-type",
    "mime-version",
    "content-transfer-encoding",
}


# Resend answers 429 beyond a team's rate (a few requests a second unless Resend
# raised it), with Retry-After in seconds. A session waits that long and sends the
# same email again (its idempotency key makes that safe), so a campaign goes at
# Resend's pace instead of failing. It tries at most this many times, and only
# while the email's time allowance (PROVIDER_TIMEOUT_SECONDS, which batch leases
# are sized for) lasts; then the email is handed back as busy, until Resend's wait
# is over.
RATE_LIMITED_TRIES = 5
# When a 429 says nothing of how long to wait; and the least wait (a Retry-After
# of 0 must not become five requests back to back).
DEFAULT_RETRY_AFTER_SECONDS = 1.0
LEAST_RETRY_AFTER_SECONDS = 0.1


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


class ResendEmail:
    name = "resend"
    idempotent = True  # an Idempotency-Key per delivery

    def __init__(self, settings: DispatchSettings) -> None:
        assert settings.resend_api_key is not None
        self._url = settings.resend_api_url.rstrip("/") + "/emails"
        self._key = settings.resend_api_key.get_secret_value()
        self._allowance = settings.provider_timeout_seconds
        self._timeout = aiohttp.ClientTimeout(total=self._allowance)
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=self._timeout, headers={"Authorization": f"Bearer {self._key}"}
            )
        return self._http

    @asynccontextmanager
    async def session(self) -> AsyncIterator[EmailSession]:
        yield _ResendSession(self._session(), self._url, self._allowance)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


class _ResendSession:
    """One request per email, keyed by its delivery: a retry after a lost answer (even
    with a re-rendered body) is recognised by Resend and never sent twice. Resend's
    batch endpoint takes one key per request, which a retried batch of different
    composition would not match — so it is not used."""

    def __init__(self, http: aiohttp.ClientSession, url: str, allowance: float) -> None:
        self._http = http
        self._url = url
        self._allowance = allowance  # seconds an email may take, waits included

    async def send_all(self, emails: Sequence[OutgoingEmail]) -> AsyncIterator[tuple[int, Outcome]]:
        for index, email in enumerate(emails):
            yield index, await self._post(email)

    async def _post(self, email: OutgoingEmail) -> Outcome:
        started = time.monotonic()
        waited = 0.0
        for refusals in range(RATE_LIMITED_TRIES):  # the 429s before this try
            # What is left of the allowance (a stalled loop may have overslept a wait).
            left = max(self._allowance - (time.monotonic() - started), 0.1)
            try:
                async with self._http.post(
                    self._url,
                    json=_payload(email),
                    headers={"Idempotency-Key": email.idempotency_key},
                    timeout=aiohttp.ClientTimeout(total=left),
                ) as response:
                    body = await response.json(content_type=None)
                    status = response.status
                    retry_after = _retry_after(response.headers)
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                # Safe to retry: the idempotency key makes a second request a no-op.
                return ProviderError(f"Resend did not answer: {error}", transient=True)
            if status != 429 or _quota_used_up(body):
                outcome = _outcome(email, status, body)
                if isinstance(outcome, Accepted) and refusals:
                    return Accepted(outcome.provider_message_id, refusals, waited)
                return outcome
            # A little more than asked, and not the same for every worker: those
            # refused together do not all come back in the same instant.
            wait = retry_after * random.uniform(1.0, 1.2)  # noqa: S311
            last_try = refusals == RATE_LIMITED_TRIES - 1
            if last_try or time.monotonic() - started + wait >= self._allowance:
                return SenderBusy(
                    f"Resend 429: {_message(body)}",
                    code="429",
                    retry_after=retry_after,
                    refusals=refusals + 1,
                )
            await asyncio.sleep(wait)
            waited += wait
        raise AssertionError("unreachable: the last try returns")


def _outcome(email: OutgoingEmail, status: int, body: Any) -> Outcome:
    """What Resend's answer, other than its rate limit, means for ``email``."""
    if status == 409:
        # The key was used before: that earlier request was taken.
        return Accepted(f"resend:{email.idempotency_key}")
    if status >= 400:
        return ProviderError(
            f"Resend {status}: {_message(body)}",
            code=str(status),
            # Outages, our own credentials, a used-up quota: try later (and the
            # breaker counts them: on-call hears of it).
            transient=status in {401, 403, 429} or status >= 500,
        )
    message_id = body.get("id") if isinstance(body, dict) else None
    if not message_id:
        return ProviderError("Resend answered without an id", transient=True)
    return Accepted(str(message_id))


def _message(body: Any) -> str:
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)


def _quota_used_up(body: Any) -> bool:
    """A 429 for the day's or month's email quota, not the rate: waiting seconds
    will not help (``daily_quota_exceeded``, ``monthly_quota_exceeded``)."""
    return isinstance(body, dict) and str(body.get("name", "")).endswith("quota_exceeded")


def _retry_after(headers: Mapping[str, str]) -> float:
    """Resend's Retry-After, in seconds (a number; an HTTP date is not sent), and never
    more than an hour: a garbled header must not park a campaign for days."""
    try:
        seconds = float(headers.get("Retry-After", ""))
    except ValueError:
        return DEFAULT_RETRY_AFTER_SECONDS
    if not math.isfinite(seconds) or seconds < 0:
        return DEFAULT_RETRY_AFTER_SECONDS
    return min(max(seconds, LEAST_RETRY_AFTER_SECONDS), 3600.0)

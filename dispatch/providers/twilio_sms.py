"""SMS through Twilio's official client, asynchronously; its base URL can point at a fake."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from dispatch.providers.base import Accepted, ProviderError, SenderBusy, SentRecord
from dispatch.settings import DispatchSettings
from store.enums import SuppressionReason

# Error codes that say the number itself must not be texted again.
SUPPRESS_AS_STOP = frozenset({"21610"})  # the recipient replied STOP to this sender
SUPPRESS_AS_INVALID = frozenset({"21614", "21635", "30005", "30006"})
UNREACHABLE = "30003"  # suppressed only after three in a row (see dispatch.feedback)
RATE_LIMITED = "20429"
QUEUE_FULL = "21611"
ACCOUNT_PROBLEMS = frozenset({"20003", "20005", "20008"})  # auth, suspended, test credentials


def suppression_for(code: str | None) -> SuppressionReason | None:
    """Whether Twilio's error code means the number must not be texted again, and why."""
    if code in SUPPRESS_AS_STOP:
        return SuppressionReason.STOP
    if code in SUPPRESS_AS_INVALID:
        return SuppressionReason.INVALID
    return None


def classify_twilio_error(status: int, code: str | None, message: str) -> ProviderError:
    """429 means "not taken, too fast": the text takes the sender's next turn, and the
    breaker does not count it. 503 means "not taken, try later". Other 5xx answers may
    come after Twilio created the message, so they are ambiguous: the reconciler asks
    before a re-send. Credentials, a suspended account or a full queue are the
    provider's trouble, not the guest's: retried (and counted by the breaker), never
    a failed delivery."""
    if status == 429 or code == RATE_LIMITED:
        return SenderBusy(f"Twilio {status}: {message}", code=code)
    if status == 503 or code == QUEUE_FULL:
        return ProviderError(f"Twilio {status}: {message}", code=code, transient=True)
    if status in {401, 403} or code in ACCOUNT_PROBLEMS:
        return ProviderError(
            f"Twilio refused our account ({code or status}): {message}", code=code, transient=True
        )
    if status >= 500:
        return ProviderError(
            f"Twilio {status}: {message}", code=code, transient=True, ambiguous=True
        )
    return ProviderError(
        f"Twilio refused the message ({code or status}): {message}",
        code=code,
        transient=False,
        suppress=suppression_for(code),
    )


class TwilioSms:
    name = "twilio"
    paced = True

    def __init__(self, settings: DispatchSettings) -> None:
        assert settings.twilio_account_sid is not None
        assert settings.twilio_auth_token is not None
        self._http = AsyncTwilioHttpClient(timeout=settings.provider_timeout_seconds)
        self._client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=self._http,
        )
        if settings.twilio_api_url:
            # Tests, the console and staging point the real client at a fake.
            self._client.api.base_url = settings.twilio_api_url.rstrip("/")
        self._messaging_service = settings.twilio_messaging_service_sid
        self._from = settings.twilio_from_number
        self.sender = self._messaging_service or self._from or ""
        self._status_callback = f"{settings.public_base_url}/twilio/status"
        # twilio's async client keeps a timeout but does not apply it: we do.
        self._timeout = settings.provider_timeout_seconds

    async def send_sms(self, to: str, body: str) -> Accepted:
        sender: dict[str, str] = (
            {"messaging_service_sid": self._messaging_service}
            if self._messaging_service
            else {"from_": self._from or ""}
        )
        try:
            async with asyncio.timeout(self._timeout):
                message = await self._client.messages.create_async(
                    to=to, body=body, status_callback=self._status_callback, **sender
                )
        except TwilioRestException as error:
            raise classify_twilio_error(
                error.status, str(error.code) if error.code else None, error.msg
            ) from None
        except aiohttp.ClientConnectorError as error:
            raise ProviderError(f"Twilio unreachable: {error}", transient=True) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            # The request went out; whether Twilio took it is unknown.
            raise ProviderError(
                f"Twilio did not answer: {type(error).__name__}", transient=True, ambiguous=True
            ) from None
        return Accepted(str(message.sid))

    async def sent_to(self, to: str, since: datetime) -> Sequence[SentRecord]:
        try:
            # By recipient only: a message still queued has no date sent yet,
            # so a DateSent filter would miss exactly the ones in doubt.
            async with asyncio.timeout(self._timeout):
                messages = await self._client.messages.list_async(to=to, limit=100)
        except TwilioRestException as error:
            raise classify_twilio_error(
                error.status, str(error.code) if error.code else None, error.msg
            ) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ProviderError(
                f"Twilio did not answer: {type(error).__name__}", transient=True
            ) from None
        return [
            SentRecord(str(m.sid), str(m.to), str(m.body or ""), m.date_created)
            for m in messages
            if m.date_created is None or m.date_created >= since
        ]

    async def close(self) -> None:
        await self._http.close()

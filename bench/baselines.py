"""What guestcomms' campaign throughput is compared with: the same messages sent without it.

* ``concurrent``: the raw baseline — every text and email that a guestcomms
  run delivered, posted again straight to the fakes by a concurrent client
  (the official ``twilio`` client, 64 requests in flight, and ``aiosmtplib``
  over 4 connections); no queue, no database, nothing composed.
* ``naive``: what a small team would write first — a loop over the official
  ``twilio`` client, one message at a time (and ``smtplib`` on one
  connection for the emails), each recipient's text then email. It is
  measured on a sample and its rate scaled: 10,000 recipients this way take
  long enough to make the benchmark's own run tedious.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiosmtplib
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bench.fakes import Fakes, Received
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

CONCURRENT_REQUESTS = 64
SMTP_CONNECTIONS = 4


async def concurrent(received: Received, fakes: Fakes) -> float:
    """Seconds to post every text and every email again, concurrently."""
    http = AsyncTwilioHttpClient(timeout=30)
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
    client.api.base_url = fakes.twilio_url
    limit = asyncio.Semaphore(CONCURRENT_REQUESTS)

    async def text(to: str, sender: str, body: str) -> None:
        async with limit:
            await client.messages.create_async(to=to, from_=sender, body=body)

    async def mail(emails: Sequence[tuple[str, list[str], bytes]]) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=fakes.smtp_port, start_tls=False)
        async with smtp:
            for sender, recipients, raw in emails:
                await smtp.sendmail(sender, recipients, raw)

    emails = received.emails
    started = time.perf_counter()
    try:
        await asyncio.gather(
            *(text(*t) for t in received.texts),
            *(mail(emails[c::SMTP_CONNECTIONS]) for c in range(SMTP_CONNECTIONS)),
        )
        return time.perf_counter() - started
    finally:
        await http.close()


@dataclass(frozen=True, slots=True)
class Baselines:
    recipients: int
    concurrent_seconds: float
    naive_recipients: int
    naive_seconds: float

    @property
    def concurrent_rate(self) -> float:
        return self.recipients / self.concurrent_seconds

    @property
    def naive_rate(self) -> float:
        return self.naive_recipients / self.naive_seconds

    def report(self) -> list[str]:
        return [
            f"raw baseline (the same messages straight to the fakes, concurrent): "
            f"{self.concurrent_seconds:.1f} s, {self.concurrent_rate:.1f} recipients/s",
            f"naive loop ({self.naive_recipients} recipients, one message at a time): "
            f"{self.naive_seconds:.1f} s, {self.naive_rate:.1f} recipients/s",
        ]


async def measure_baselines(fakes: Fakes, naive_sample: int) -> Baselines:
    """Both baselines, on what the fakes received since their last reset; then reset."""
    received = await fakes.received()
    await fakes.reset()
    seconds = await concurrent(received, fakes)
    await fakes.reset()
    sampled, naive_seconds = await asyncio.to_thread(naive, received, fakes, naive_sample)
    await fakes.reset()
    # Recipients, counted as the average of texts and emails (equal after a full run).
    return Baselines(
        (len(received.texts) + len(received.emails)) // 2, seconds, sampled, naive_seconds
    )


def naive(received: Received, fakes: Fakes, sample: int) -> tuple[int, float]:
    """(recipients, seconds): one recipient after another, each text then email."""
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = fakes.twilio_url
    pairs = list(zip(received.texts, received.emails, strict=False))[:sample]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", fakes.smtp_port) as smtp:
        for (to, sender, body), (mail_from, recipients, raw) in pairs:
            client.messages.create(to=to, from_=sender, body=body)
            smtp.sendmail(mail_from, recipients, raw)
    return len(pairs), time.perf_counter() - started

"""Campaign throughput: 10,000 recipients by SMS and email, through Redis and PostgreSQL.

    .venv/bin/python -m bench.campaign [--recipients 10000] [--workers 2] [--threads 8]

Measures, in one run against the same local fakes (Twilio REST, SMTP):

* baseline: the same messages posted straight to the fakes by a concurrent
  client (the official twilio client and aiosmtplib; no queue, no database);
* guestcomms: from approval until every delivery is final, with Dramatiq
  worker processes (the Procfile's command), leases, re-checks and records.

Prints recipients/second for both, their ratio (target ≥ 0.5), and each
worker's resident memory growth over the run (target < 50 MB). Needs
PostgreSQL and Redis (TEST_DATABASE_URL, REDIS_URL; the defaults are the
local ones). Tier rate limits and carrier pacing are off: this measures
the machinery, not the carriers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.dispatching import wire
from dispatch.approval import approve_campaign
from store.database import Database
from store.migrate import migrate
from store.models import Delivery
from store.repositories.deliveries import WAITING
from tests import data_keys
from tests.data_keys import store_settings
from tests.dispatch_harness import (
    APPROVER,
    draft_for_approval,
    make_guests,
    running_fakes,
    settings_for,
)
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

DEFAULT_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


async def baseline(recipients: int, twilio_url: str, smtp_port: int, concurrency: int) -> float:
    """Seconds to post every message straight to the fakes."""
    http = AsyncTwilioHttpClient(timeout=30)
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
    client.api.base_url = twilio_url
    limit = asyncio.Semaphore(concurrency)

    async def text(n: int) -> None:
        async with limit:
            await client.messages.create_async(
                to=f"+1201300{n:04d}", from_="+12015550000", body=f"Baseline text {n}"
            )

    async def mail(numbers: Sequence[int]) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, start_tls=False) as smtp:
            for n in numbers:
                message = EmailMessage()
                message["From"] = "bench@example.com"
                message["To"] = f"baseline{n}@example.com"
                message["Subject"] = "Baseline"
                message.set_content(f"Baseline email {n}")
                await smtp.send_message(message)

    started = time.perf_counter()
    connections = 4
    await asyncio.gather(
        *(text(n) for n in range(recipients)),
        *(mail(range(c, recipients, connections)) for c in range(connections)),
    )
    elapsed = time.perf_counter() - started
    await http.close()
    return elapsed


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker_children(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


async def run(recipients: int, workers: int, threads: int) -> None:
    admin_url = os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)
    name = f"guestcomms_bench_{uuid.uuid4().hex[:8]}"
    base = make_url(admin_url)
    admin = await asyncpg.connect(base.set(drivername="postgresql").render_as_string(False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    database = Database(store_settings(url))
    processes: list[asyncio.subprocess.Process] = []
    try:
        await migrate(database)
        organisation, wedding, planner, approver = await make_guests(database, recipients)
        campaign = await draft_for_approval(
            database, organisation, wedding, planner, day_of_logistics=True
        )
        namespace = f"gcbench-{uuid.uuid4().hex[:8]}"
        with running_fakes() as fakes:
            base_seconds = await baseline(recipients, fakes.twilio_url, fakes.smtp_port, 64)
            fakes.twilio.messages.clear()
            fakes.smtp.messages.clear()
            settings = settings_for(
                url,
                fakes,
                Path("var/bench"),
                redis_url,
                broker_namespace=namespace,
                enforce_hourly_and_daily_limits=False,
            )
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "REDIS_URL": redis_url,
                "BROKER_NAMESPACE": namespace,
                "PUBLIC_BASE_URL": "https://comms.example.com",
                "UNSUBSCRIBE_SECRET": "bench-secret",
                "SMS_MESSAGES_PER_SECOND": "1000000",
                "ENFORCE_HOURLY_AND_DAILY_LIMITS": "false",
                "EMAIL_PROVIDER": "smtp",
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(fakes.smtp_port),
                "SMTP_STARTTLS": "false",
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "TWILIO_FROM_NUMBER": "+12015550000",
                "TWILIO_API_URL": fakes.twilio_url,
                **data_keys.ENV,  # the guests make_guests wrote
            }
            command = ("-m", "dramatiq", "bot.worker", "--processes", "1", "--threads")
            processes = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    *command,
                    str(threads),
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                    start_new_session=True,
                )
                for _ in range(workers)
            ]
            await asyncio.sleep(3)  # boot
            children = [pid for p in processes for pid in worker_children(p.pid)]
            memory_before = {pid: rss_kb(pid) for pid in children}
            dispatching = wire(settings, namespace)
            control = dispatching.control_runtime(settings)
            started = time.perf_counter()
            await approve_campaign(control, campaign, approver, APPROVER)
            while True:
                async with database.reading() as session:
                    waiting = await session.scalar(
                        select(func.count()).where(
                            Delivery.campaign_id == campaign, Delivery.status.in_(WAITING)
                        )
                    )
                if not waiting:
                    break
                await asyncio.sleep(0.2)
            seconds = time.perf_counter() - started
            memory_after = {pid: rss_kb(pid) for pid in children}
            await control.close()
            dispatching.broker.close()
            texts, emails = len(fakes.twilio.messages), len(fakes.smtp.messages)
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.wait_for(process.wait(), timeout=30)
        await database.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    base_rate = recipients / base_seconds
    rate = recipients / seconds
    growth = (
        max((memory_after[p] - memory_before[p]) / 1024 for p in memory_before)
        if memory_before
        else 0
    )
    print(f"recipients: {recipients:,} (SMS + email: {texts:,} texts, {emails:,} emails)")
    print(f"baseline (straight to the fakes): {base_seconds:6.1f} s  {base_rate:8.1f} recipients/s")
    label = f"guestcomms ({workers} workers × {threads} threads)"
    print(f"{label}: {seconds:6.1f} s  {rate:8.1f} recipients/s")
    print(f"ratio: {rate / base_rate:.2f}  (target ≥ 0.5)")
    print(f"worker memory growth: {growth:.1f} MB at most  (target < 50 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.recipients, args.workers, args.threads))


if __name__ == "__main__":
    main()

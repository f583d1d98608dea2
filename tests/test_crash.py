"""Workers killed with SIGKILL mid-campaign: nothing is sent twice, nothing is lost.

Real worker processes (Dramatiq's own CLI) on Redis and PostgreSQL are
killed at random while a 2,000-recipient, two-channel campaign goes out;
Twilio's fake also cuts some connections after accepting a message. Then
the reconciler runs, and the fakes' records are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from bot.dispatching import wire
from dispatch.approval import approve_campaign
from dispatch.reconciler import tick
from store.database import Database
from store.enums import CampaignState, DeliveryStatus
from store.models import Campaign
from tests import data_keys
from tests.dispatch_harness import (
    APPROVER,
    deliveries,
    draft_for_approval,
    make_guests,
    running_fakes,
    settings_for,
)
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

RECIPIENTS = 2000
KILLS = 8

pytestmark = pytest.mark.integration


def _worker_env(
    database: Database, redis_url: str, namespace: str, fakes_env: dict[str, str]
) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database.url.render_as_string(hide_password=False),
        "REDIS_URL": redis_url,
        "BROKER_NAMESPACE": namespace,
        "PUBLIC_BASE_URL": "https://comms.example.com",
        "UNSUBSCRIBE_SECRET": "test-unsubscribe-secret",
        "SMS_MESSAGES_PER_SECOND": "10000",
        "LEASE_SECONDS": "5",
        "LEASE_MARGIN_SECONDS": "2",
        "PROVIDER_TIMEOUT_SECONDS": "1",
        "STALE_PENDING_SECONDS": "5",
        # 4,000 messages are twice the Enterprise tier's hour; limits are tested elsewhere.
        "ENFORCE_HOURLY_AND_DAILY_LIMITS": "false",
        "EMAIL_PROVIDER": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_STARTTLS": "false",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+12015550000",
        **data_keys.ENV,
        **fakes_env,
    }


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "bot.worker", "--processes", "1", "--threads", "4"],
            env=env,
            stdout=output,
            stderr=output,
            start_new_session=True,  # its own process group: SIGKILL takes all of it
        )


def _kill(worker: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


async def test_killed_workers_double_nothing_and_lose_nothing(
    postgres_database: Database, redis_url: str, tmp_path: Path
) -> None:
    db = postgres_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, RECIPIENTS)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, day_of_logistics=True
    )
    namespace = f"gccrash-{uuid.uuid4().hex[:8]}"
    chance = random.Random(42)
    with running_fakes() as fakes:
        fakes.twilio.drop_after_accept = 0.02
        url = db.url.render_as_string(hide_password=False)
        settings = settings_for(
            url,
            fakes,
            tmp_path,
            redis_url,
            broker_namespace=namespace,
            lease_seconds=5,
            lease_margin_seconds=2,
            provider_timeout_seconds=1,
            stale_pending_seconds=5,
            enforce_hourly_and_daily_limits=False,
        )
        env = _worker_env(
            db,
            redis_url,
            namespace,
            {
                "TWILIO_API_URL": fakes.twilio_url,
                "SMTP_PORT": str(fakes.smtp_port),
                "OUTBOX_DIR": str(tmp_path / "outbox"),
            },
        )
        log = tmp_path / "workers.log"
        workers = [_start_worker(env, log) for _ in range(3)]
        dispatching = wire(settings, namespace)
        control = dispatching.control_runtime(settings)
        try:
            await approve_campaign(control, campaign_id, approver, APPROVER)
            kills = 0
            while kills < KILLS:
                await asyncio.sleep(chance.uniform(0.3, 1.0))
                victim = workers.pop(chance.randrange(len(workers)))
                await asyncio.to_thread(_kill, victim)
                kills += 1
                workers.append(_start_worker(env, log))
            for _ in range(240):
                await tick(control)
                rows = await deliveries(db, campaign_id)
                if all(row.status == DeliveryStatus.SENT for row in rows):
                    break
                await asyncio.sleep(0.5)
            await tick(control)
        finally:
            for worker in workers:
                await asyncio.to_thread(_kill, worker)
            await control.close()
            dispatching.broker.close()

    rows = await deliveries(db, campaign_id)
    assert Counter(row.status for row in rows) == {DeliveryStatus.SENT: 2 * RECIPIENTS}, (
        log.read_text()[-3000:]
    )
    texts = Counter(fakes.twilio.bodies_by_number().values())
    twice = [n for n, c in fakes.twilio.bodies_by_number().items() if c > 1]
    detail = [
        [(m.created.strftime("%H:%M:%S.%f"), m.answer_dropped) for m in fakes.twilio.sent_to(n)]
        for n in twice[:8]
    ]
    assert texts == {1: RECIPIENTS}, f"texts per number: {texts}; {detail}"
    # What each guest's mailbox shows: copies with one Message-ID are one message.
    mailboxes: dict[str, set[str]] = {}
    for message in fakes.smtp.messages:
        mailboxes.setdefault(str(message["To"]), set()).add(str(message["Message-ID"]))
    seen = Counter(len(ids) for ids in mailboxes.values())
    assert seen == {1: RECIPIENTS}, f"distinct emails per guest: {seen}"
    assert len(mailboxes) == RECIPIENTS
    raw_copies = len(fakes.smtp.messages) - RECIPIENTS
    print(
        f"\n{KILLS} kills; Twilio dropped {fakes.twilio.drop_after_accept:.0%} of answers; "
        f"SMTP re-sends carrying the same Message-ID: {raw_copies}"
    )
    async with db.reading() as session:
        campaign = await session.get(Campaign, campaign_id)
    assert campaign is not None
    assert campaign.state == CampaignState.COMPLETED

"""`guestcomms dev` on a laptop: one process, console providers, and nothing lost on restart.

The campaign is approved while no worker is running (its broker messages go
nowhere, as when an in-process broker dies with its process). The dev
process's scheduler finds the pending deliveries in the database and sends
them, through the console providers, into var/outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import select

from bot.dispatching import build_runtime
from bot.settings import Settings
from dispatch.approval import approve_campaign
from dispatch.settings import DispatchSettings
from handlers.settings import WebSettings
from store.audit import Actor
from store.enums import CampaignState, Channel
from store.models import Member
from store.repositories.campaigns import CampaignRepository
from store.repositories.organisations import WeddingRepository
from tests import data_keys
from tests.conftest import open_database
from tests.dispatch_harness import deliveries, wait_for_state
from tests.fakes.smtp import free_port

PLANNER = Actor("cli", "U_PLANNER")


async def test_dev_mode_sends_what_was_pending_through_the_console(tmp_path: Path) -> None:
    db_path = tmp_path / "dev.db"
    outbox = tmp_path / "outbox"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
        "OUTBOX_DIR": str(outbox),
        "UNSUBSCRIBE_SECRET": "dev-test-secret",
        "STALE_PENDING_SECONDS": "1",
        "PUBLIC_BASE_URL": "https://comms.example.com",
        "PORT": str(free_port()),
        # The test reads the guests dev mode writes.
        **data_keys.ENV,
    }
    env.pop("REDIS_URL", None)
    script = Path(sys.executable).parent / "guestcomms"
    loaded = await asyncio.create_subprocess_exec(
        str(script), "demo-data", env=env, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL
    )
    assert await loaded.wait() == 0

    database = open_database(env["DATABASE_URL"])
    async with database.transaction() as session:
        wedding = await WeddingRepository(session).resolve(None)
        planner, approver = (
            await session.scalars(
                select(Member)
                .where(Member.slack_user_id.in_(["U_PLANNER", "U_APPROVER"]))
                .order_by(Member.slack_user_id.desc())
            )
        ).all()
        campaigns = CampaignRepository(session)
        campaign = await campaigns.create(
            PLANNER,
            organisation_id=wedding.organisation_id,
            wedding_id=wedding.id,
            name="Week-of details",
            channels=[Channel.EMAIL, Channel.SMS],
            template_key="week_of",
            created_by_member_id=planner.id,
            day_of_logistics=True,
        )
        await campaigns.transition(campaign.id, CampaignState.PENDING_APPROVAL, PLANNER)
    settings = Settings(
        store=data_keys.store_settings(env["DATABASE_URL"]),
        dispatch=DispatchSettings(
            public_base_url="https://comms.example.com",
            outbox_dir=outbox,
            unsubscribe_secret="dev-test-secret",
        ),
        web=WebSettings(),
    )
    # No broker anywhere: the messages this enqueues are lost on purpose.
    nowhere = build_runtime(settings, lambda ref, delay: None)
    try:
        approved = await approve_campaign(
            nowhere, campaign.id, approver, Actor("cli", "U_APPROVER")
        )
    finally:
        await nowhere.close()

    dev = await asyncio.create_subprocess_exec(
        str(script),
        "dev",
        "--every",
        "0.5",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        finished = await wait_for_state(database, campaign.id, {CampaignState.COMPLETED}, 60)
    finally:
        dev.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(dev.communicate(), timeout=20)
    assert dev.returncode == 0, output.decode()[-2000:]
    assert "guestcomms dev: web on http://localhost:" in output.decode()

    rows = await deliveries(database, campaign.id)
    await database.dispose()
    sent_sms = [r for r in rows if r.channel == Channel.SMS and r.status == "sent"]
    sent_email = [r for r in rows if r.channel == Channel.EMAIL and r.status == "sent"]
    assert finished.sent_count == len(sent_sms) + len(sent_email) == approved.deliveries
    texts = [json.loads(line) for line in (outbox / "sms.jsonl").read_text().splitlines()]
    assert sorted(t["to"] for t in texts) == sorted(r.address for r in sent_sms)
    assert all(t["body"].endswith("Reply STOP to opt out.") for t in texts)
    emails = sorted(outbox.glob("*.eml"))
    assert len(emails) == len(sent_email)
    message = message_from_bytes(emails[0].read_bytes(), policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(message["List-Unsubscribe"]).startswith("<https://comms.example.com/u/")

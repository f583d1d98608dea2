"""Provider behaviour through real clients: Resend's idempotency, DKIM on the wire, pacing,
and Twilio's unreachable numbers."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dispatch.approval import approve_campaign
from dispatch.feedback import learn_from_failure
from dispatch.providers.base import Accepted
from dispatch.providers.resend_email import ResendEmail
from dispatch.settings import DispatchSettings
from store.audit import SYSTEM
from store.database import Database
from store.enums import CampaignState, Channel, DeliveryStatus, SuppressionReason
from store.models import Delivery
from store.models.base import utcnow
from store.repositories.suppressions import SuppressionLedger
from tests.dispatch_harness import (
    APPROVER,
    draft_for_approval,
    make_guests,
    midday_clock,
    running_dispatch,
    running_fakes,
    settings_for,
    wait_for_state,
)
from tests.fakes.resend import API_KEY, ResendFake, sample_email
from tests.fakes.server import BackgroundServer


async def test_resend_accepts_each_delivery_once_even_when_sent_again() -> None:
    fake = ResendFake()
    with BackgroundServer(fake.app()) as server:
        provider = ResendEmail(DispatchSettings(resend_api_key=API_KEY, resend_api_url=server.url))
        try:
            # The second time, as after a crash: re-rendered (new Date), same keys.
            for _ in range(2):
                emails = [sample_email(n) for n in range(30)]
                async with provider.session() as session:
                    outcomes = [outcome async for _, outcome in session.send_all(emails)]
                assert all(isinstance(outcome, Accepted) for outcome in outcomes)
        finally:
            await provider.close()
    assert len(fake.emails) == 30
    assert fake.requests == 60
    first = fake.emails[0]
    assert first["to"] == ["Zoë <guest0@example.com>"]
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["text"].startswith("Text 0")


async def test_emails_leave_dkim_signed_when_a_key_is_set(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 3)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.EMAIL,)
    )
    with running_fakes() as fakes:
        settings = settings_for(
            sqlite_database_url,
            fakes,
            tmp_path,
            dkim_private_key=private,
            dkim_selector="gc",
            dkim_domain="evergreen.example.com",
        )
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    assert len(fakes.smtp.raw) == 3
    for raw, message in zip(fakes.smtp.raw, fakes.smtp.messages, strict=True):
        assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record)
        signed = re.search(r"h=([^;]+)", str(message["DKIM-Signature"]).replace(" ", ""))
        assert signed is not None
        assert "list-unsubscribe" in signed.group(1)


async def test_texts_keep_to_the_senders_pace_without_a_single_429(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 60)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    with running_fakes() as fakes:
        fakes.twilio.mps = 25  # the carrier's limit for this sender
        settings = settings_for(sqlite_database_url, fakes, tmp_path, sms_messages_per_second=20)
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    assert fakes.twilio.rejected_429 == 0
    assert len(fakes.twilio.messages) == 60
    # Never faster than the pace (20/s) over any 21 texts, give or take the
    # loop's jitter; a busy machine may make it slower, which is allowed.
    arrivals = [message.created for message in fakes.twilio.messages]
    spans = [(b - a).total_seconds() for a, b in zip(arrivals, arrivals[20:], strict=False)]
    assert min(spans) >= 20 * (1 / 20) * 0.9


async def test_three_unreachable_answers_in_a_row_suppress_the_number(
    sqlite_database: Database,
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, _ = await make_guests(db, 1)
    number = "+12012000000"
    for attempt in range(3):
        campaign_id = await draft_for_approval(
            db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
        )
        async with db.transaction() as session:
            session.add(
                Delivery(
                    campaign_id=campaign_id,
                    guest_id=None,
                    channel=Channel.SMS,
                    address=number,
                    status=DeliveryStatus.FAILED,
                    error_code="30003",
                    updated_at=utcnow(),
                )
            )
            await session.flush()
            added = await learn_from_failure(
                session,
                SYSTEM,
                organisation_id=organisation_id,
                channel=Channel.SMS,
                address=number,
                code="30003",
                suppress=None,
                source="twilio:30003",
            )
        assert added is (attempt == 2)
    async with db.reading() as session:
        entry = await SuppressionLedger(session).active(organisation_id, Channel.SMS, number)
    assert entry is not None
    assert entry.reason == SuppressionReason.INVALID

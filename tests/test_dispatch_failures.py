"""What providers' failures do: suppress bad numbers, retry what may work, stop calling a
provider that is down — and approvals that must be refused."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, update

from dispatch.approval import ApprovalRefused, approve_campaign
from store.database import Database
from store.enums import CampaignState, Channel, DeliveryStatus, Role, SuppressionReason, Tier
from store.models import Event, Guest, Member
from store.repositories.organisations import OrganisationRepository
from store.repositories.suppressions import SuppressionLedger
from tests.dispatch_harness import (
    APPROVER,
    PLANNER,
    Backend,
    deliveries,
    draft_for_approval,
    make_guests,
    midday_clock,
    running_dispatch,
    running_fakes,
    settings_for,
    until,
    wait_for_state,
)


def _phone(n: int) -> str:
    return f"+1201200{n:04d}"


async def test_numbers_twilio_refuses_join_the_ledger(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 20)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    with running_fakes() as fakes:
        fakes.twilio.refuse = {_phone(3): (400, 21610), _phone(4): (400, 21614)}
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    assert (campaign.sent_count, campaign.failed_count) == (18, 2)
    failed = {r.address: r.error_code for r in await deliveries(db, campaign_id) if r.error_code}
    assert failed == {_phone(3): "21610", _phone(4): "21614"}
    async with db.reading() as session:
        ledger = SuppressionLedger(session)
        stop = await ledger.active(organisation_id, Channel.SMS, _phone(3))
        invalid = await ledger.active(organisation_id, Channel.SMS, _phone(4))
    assert stop is not None
    assert (stop.reason, stop.source) == (SuppressionReason.STOP, "sms:twilio:21610")
    assert invalid is not None
    assert invalid.reason == SuppressionReason.INVALID


async def test_a_hard_bounce_suppresses_and_a_soft_one_is_retried(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 10)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.EMAIL,)
    )
    with running_fakes() as fakes:
        fakes.smtp.refuse = {
            "guest1@example.com": "550 5.1.1 No such user",
            "guest2@example.com": "451 4.3.0 Try again later",
        }
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await until(
                lambda: _soft_bounced(db, campaign_id, "guest2@example.com"),
                30,
                "the soft bounce going back to pending",
            )
            fakes.smtp.refuse.pop("guest2@example.com")
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED}, 60)
    assert (campaign.sent_count, campaign.failed_count) == (9, 1)
    rows = {r.address: r for r in await deliveries(db, campaign_id)}
    assert rows["guest1@example.com"].status == DeliveryStatus.FAILED
    assert rows["guest2@example.com"].status == DeliveryStatus.SENT
    assert rows["guest2@example.com"].attempts >= 2
    async with db.reading() as session:
        bounce = await SuppressionLedger(session).active(
            organisation_id, Channel.EMAIL, "guest1@example.com"
        )
    assert bounce is not None
    assert bounce.reason == SuppressionReason.BOUNCE


async def _soft_bounced(db: Database, campaign_id: int, address: str) -> bool:
    rows = await deliveries(db, campaign_id)
    return any(
        r.address == address and r.status == DeliveryStatus.PENDING and r.error_code == "451"
        for r in rows
    )


async def test_the_breaker_opens_on_an_outage_and_closes_after_it(
    backend: Backend, tmp_path: Path
) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 120)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    with running_fakes() as fakes:
        fakes.twilio.failing_status = 503
        settings = settings_for(
            backend.url,
            fakes,
            tmp_path,
            backend.redis_url,
            breaker_min_calls=5,
            breaker_failure_rate=0.5,
            # Open long enough that the two request counts below, on a slow machine, fall in it.
            breaker_open_seconds=5,
            send_concurrency=2,
        )
        async with running_dispatch(settings, midday_clock(), threads=1) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await until(lambda: _events(db, "breaker.opened"), 30, "the breaker opening")
            # A batch asks the breaker at most every half second: sends that
            # asked just before it opened may still go. After that, none.
            await asyncio.sleep(0.6)
            during_outage = fakes.twilio.requests
            await asyncio.sleep(1.2)
            # While open, the batches wait instead of calling Twilio.
            assert fakes.twilio.requests == during_outage
            assert during_outage < 20
            fakes.twilio.failing_status = None
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED}, 60)
            await until(lambda: _events(db, "breaker.closed"), 10, "the breaker closing")
    assert campaign.sent_count == 120
    assert Counter(fakes.twilio.bodies_by_number().values()) == {1: 120}


async def _events(db: Database, kind: str) -> list[Event]:
    async with db.reading() as session:
        return list(await session.scalars(select(Event).where(Event.kind == kind)))


async def _member(db: Database, organisation_id: int, user: str, role: Role) -> Member:
    async with db.transaction() as session:
        return await OrganisationRepository(session).add_member(
            PLANNER, organisation_id, slack_user_id=user, role=role
        )


async def test_approval_needs_a_second_person_with_the_right_role(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, _, _ = await make_guests(db, 5)
    viewer = await _member(db, organisation_id, "U_VIEWER", Role.VIEWER)
    author_admin = await _member(db, organisation_id, "U_ADMIN", Role.ADMIN)
    campaign_id = await draft_for_approval(db, organisation_id, wedding_id, author_admin)
    with running_fakes() as fakes:
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, midday_clock()) as run:
            with pytest.raises(ApprovalRefused) as by_author:
                await approve_campaign(run.control, campaign_id, author_admin, APPROVER)
            with pytest.raises(ApprovalRefused) as by_viewer:
                await approve_campaign(run.control, campaign_id, viewer, APPROVER)
    assert by_author.value.reasons == [
        "A campaign must be approved by someone other than its author."
    ]
    assert by_viewer.value.reasons == [
        "Approving needs the owner, admin or approver role; U_VIEWER is a viewer."
    ]
    assert await deliveries(db, campaign_id) == []


async def test_blocking_findings_make_approval_impossible(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 101, tier=Tier.FREE)
    campaign_id = await draft_for_approval(db, organisation_id, wedding_id, planner)
    with running_fakes() as fakes:
        settings = settings_for(sqlite_database_url, fakes, tmp_path)
        async with running_dispatch(settings, midday_clock()) as run:
            with pytest.raises(ApprovalRefused) as refused:
                await approve_campaign(run.control, campaign_id, approver, APPROVER)
    assert refused.value.reasons == [
        "101 guests would receive this campaign; the Free plan allows 100 per campaign."
    ]
    assert await deliveries(db, campaign_id) == []


async def test_texts_fall_back_to_email_while_the_sms_provider_is_down(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 30)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,), allow_fallback=True
    )
    with running_fakes() as fakes:
        fakes.twilio.failing_status = 503
        settings = settings_for(
            sqlite_database_url, fakes, tmp_path, breaker_min_calls=5, send_concurrency=2
        )
        async with running_dispatch(settings, midday_clock(), threads=1) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED}, 60)
    rows = await deliveries(db, campaign_id)
    fell_back = [r for r in rows if r.skip_reason == "fell_back_to_email"]
    emails = [r for r in rows if r.channel == Channel.EMAIL]
    assert len(fakes.twilio.messages) == 0
    # Every guest has an email address here: all thirty hear about it by email.
    assert len(fell_back) == len(emails) == len(fakes.smtp.messages) == 30
    assert campaign.sent_count == 30
    assert {r.guest_id for r in emails} == {r.guest_id for r in fell_back}


async def test_a_guest_who_prefers_texts_gets_the_email_when_texts_cannot_go(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 10)
    async with db.transaction() as session:
        await session.execute(update(Guest).values(preferred_channel="sms"))
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, allow_fallback=True
    )
    with running_fakes() as fakes:
        fakes.twilio.failing_status = 503
        settings = settings_for(
            sqlite_database_url, fakes, tmp_path, breaker_min_calls=5, send_concurrency=2
        )
        async with running_dispatch(settings, midday_clock(), threads=1) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            campaign = await wait_for_state(db, campaign_id, {CampaignState.COMPLETED}, 60)
    assert len(fakes.twilio.messages) == 0
    assert len(fakes.smtp.messages) == 10
    assert campaign.sent_count == 10

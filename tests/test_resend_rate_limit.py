"""Resend's rate limit (429 with Retry-After, a few requests a second per team) through
the real provider against a local fake: waited out, never a failed email, never the
circuit breaker's business; a used-up quota stays a provider error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dispatch.approval import approve_campaign
from dispatch.providers.base import Accepted, Outcome, ProviderError, SenderBusy
from dispatch.providers.resend_email import RATE_LIMITED_TRIES, ResendEmail
from dispatch.settings import DispatchSettings
from store.database import Database
from store.enums import CampaignState, Channel, DeliveryStatus
from store.models import Event
from store.models.monitoring import MetricBucket
from tests.dispatch_harness import (
    APPROVER,
    deliveries,
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


async def _first_outcomes(fake: ResendFake, count: int, allowance: float = 15) -> list[Outcome]:
    """What the provider made of the first ``count`` of three emails, each allowed
    ``allowance`` seconds (PROVIDER_TIMEOUT_SECONDS)."""
    with BackgroundServer(fake.app()) as server:
        provider = ResendEmail(
            DispatchSettings(
                resend_api_key=API_KEY,
                resend_api_url=server.url,
                provider_timeout_seconds=allowance,
            )
        )
        try:
            outcomes: list[Outcome] = []
            async with provider.session() as session:
                async for _, outcome in session.send_all([sample_email(n) for n in range(3)]):
                    outcomes.append(outcome)
                    if len(outcomes) == count:
                        break
            return outcomes
        finally:
            await provider.close()


async def test_a_rate_limited_email_goes_again_after_resends_wait() -> None:
    fake = ResendFake(rate_limited=3, retry_after="0")

    outcomes = await _first_outcomes(fake, 3)

    assert all(isinstance(outcome, Accepted) for outcome in outcomes)
    first = outcomes[0]
    assert isinstance(first, Accepted)
    assert first.refusals == 3  # reported, so they count as a pace and not as latency
    assert first.waited_seconds > 0
    assert len(fake.emails) == 3  # each once: the 429s took nothing
    assert fake.requests == 3 + 3


async def test_a_rate_limit_that_lasts_hands_the_email_back_as_busy() -> None:
    fake = ResendFake(rate_limited=1000, retry_after="0")

    [outcome] = await _first_outcomes(fake, 1)

    assert isinstance(outcome, SenderBusy)
    assert outcome.code == "429"
    assert outcome.refusals == RATE_LIMITED_TRIES
    assert fake.requests == RATE_LIMITED_TRIES
    assert fake.emails == []


async def test_a_wait_longer_than_the_emails_allowance_is_not_sat_out() -> None:
    fake = ResendFake(rate_limited=1000, retry_after="30")

    [outcome] = await _first_outcomes(fake, 1, allowance=15)

    assert isinstance(outcome, SenderBusy)
    assert outcome.retry_after == 30.0
    assert fake.requests == 1


async def test_one_email_waits_out_only_what_its_allowance_holds() -> None:
    fake = ResendFake(rate_limited=1000, retry_after="0.3")

    [outcome] = await _first_outcomes(fake, 1, allowance=1.0)

    # Waited once at least (0.3 s fits in 1 s); never the five tries' four waits.
    assert isinstance(outcome, SenderBusy)
    assert 2 <= fake.requests < RATE_LIMITED_TRIES


async def test_a_used_up_quota_is_the_providers_trouble_not_a_pace() -> None:
    fake = ResendFake(rate_limited=1000, retry_after="0", refusal="daily_quota_exceeded")

    [outcome] = await _first_outcomes(fake, 1)

    assert isinstance(outcome, ProviderError)
    assert not isinstance(outcome, SenderBusy)
    assert outcome.transient
    assert fake.requests == 1


async def _figures(db: Database) -> tuple[list[str], int]:
    """The breaker's events, and the rate-limit refusals counted."""
    async with db.reading() as session:
        breaker_events = (
            await session.scalars(select(Event.kind).where(Event.kind.like("breaker.%")))
        ).all()
        rate_limited = sum(
            await session.scalars(
                select(MetricBucket.count).where(MetricBucket.name == "messages.rate_limited")
            )
        )
    return list(breaker_events), rate_limited


@asynccontextmanager
async def _sending_through(
    resend: ResendFake, database: Database, url: str, tmp_path: Path, guests: int, **settings: Any
) -> AsyncIterator[int]:
    """An email campaign to ``guests`` guests, approved, its workers sending through
    ``resend``; yields the campaign's id while they run."""
    organisation_id, wedding_id, planner, approver = await make_guests(database, guests)
    campaign_id = await draft_for_approval(
        database, organisation_id, wedding_id, planner, channels=(Channel.EMAIL,)
    )
    with running_fakes() as fakes, BackgroundServer(resend.app()) as server:
        dispatch = settings_for(
            url,
            fakes,
            tmp_path,
            email_provider="resend",
            resend_api_key=API_KEY,
            resend_api_url=server.url,
            **settings,
        )
        async with running_dispatch(dispatch, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            yield campaign_id


async def test_a_campaign_through_a_short_rate_limit_sends_each_email_once_on_one_attempt(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    resend = ResendFake(rate_limited=3, retry_after="0")
    async with _sending_through(resend, db, sqlite_database_url, tmp_path, 4) as campaign_id:
        await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})

    sent = await deliveries(db, campaign_id)
    assert {row.status for row in sent} == {DeliveryStatus.SENT}
    assert all(row.attempts == 1 and row.error_code is None for row in sent)
    assert len(resend.emails) == 4
    assert await _figures(db) == ([], 3)


async def test_a_campaign_waits_out_resends_rate_limit_and_every_email_goes_once(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path
) -> None:
    db = sqlite_database
    # Longer than an email's allowance: the emails go back to wait for it.
    resend = ResendFake(rate_limited=1_000_000, retry_after="3")
    async with _sending_through(
        resend, db, sqlite_database_url, tmp_path, 6, provider_timeout_seconds=2
    ) as campaign_id:
        deadline = asyncio.get_running_loop().time() + 60
        held = await deliveries(db, campaign_id)
        while not all(
            row.status == DeliveryStatus.PENDING and row.not_before is not None for row in held
        ):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
            held = await deliveries(db, campaign_id)
        resend.stop_limiting()
        await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})

    # Held back until Resend's Retry-After, without spending an attempt.
    assert resend.rejected_429 >= 1
    for row in held:
        assert row.attempts == 0
        assert row.error_code is None
        assert row.not_before is not None
        assert (row.not_before - row.updated_at).total_seconds() > 2.5
    sent = await deliveries(db, campaign_id)
    assert {row.status for row in sent} == {DeliveryStatus.SENT}
    assert all(row.attempts == 1 for row in sent)
    assert len(resend.emails) == 6
    breaker_events, rate_limited = await _figures(db)
    assert breaker_events == []
    assert rate_limited >= 1

"""Running real campaigns in tests: fakes, settings, workers on a real broker, and waiting."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dramatiq
from redis.asyncio import Redis
from sqlalchemy import insert, select

from bot.dispatching import Dispatching, start_workers, stop_workers, wire
from bot.settings import Settings
from dispatch.runtime import Runtime
from dispatch.settings import DispatchSettings
from handlers.settings import WebSettings
from store.audit import Actor
from store.database import Database
from store.enums import CampaignState, Channel, DeliveryStatus, Role, Tier
from store.models import Campaign, ConsentRecord, Delivery, Guest, Member, Organisation
from store.models.base import utcnow
from store.repositories.campaigns import CampaignRepository
from store.repositories.organisations import OrganisationRepository, WeddingRepository
from tests.data_keys import store_settings
from tests.fakes.server import BackgroundServer
from tests.fakes.smtp import RunningSink, SmtpSink
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioFake

PLANNER = Actor("slack", "U_PLANNER")
APPROVER = Actor("slack", "U_APPROVER")


class MovableClock:
    """Real time, shifted: it runs on, and a test can jump it forward (a new hour, 08:00)."""

    def __init__(self, local_time: str = "12:00", zone: str = "America/New_York") -> None:
        now = utcnow()
        local = now.astimezone(ZoneInfo(zone))
        hour, minute = (int(part) for part in local_time.split(":"))
        target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        self.offset = target - local
        self.zone = ZoneInfo(zone)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def midday_clock(zone: str = "America/New_York") -> MovableClock:
    """Midday where the test guests live, so quiet hours never get in the way."""
    return MovableClock("12:00", zone)


@dataclass
class Backend:
    """Where a dispatch test runs: SQLite with the in-process broker, or PostgreSQL with
    Redis (broker, limits, pacing and breakers all in Redis)."""

    database: Database
    url: str
    redis_url: str | None


@dataclass
class Fakes:
    twilio: TwilioFake
    twilio_url: str
    smtp: SmtpSink
    smtp_port: int


@contextmanager
def running_fakes() -> Iterator[Fakes]:
    twilio = TwilioFake()
    sink = SmtpSink()
    with BackgroundServer(twilio.app()) as server, RunningSink(sink) as smtp:
        yield Fakes(twilio, server.url, sink, smtp.port)


def settings_for(
    database_url: str,
    fakes: Fakes,
    tmp_path: Path,
    redis_url: str | None = None,
    **dispatch: Any,
) -> Settings:
    values: dict[str, Any] = {
        "public_base_url": "https://comms.example.com",
        "unsubscribe_secret": "test-unsubscribe-secret",
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from_number": "+12015550000",
        "twilio_api_url": fakes.twilio_url,
        "sms_messages_per_second": 10_000,
        "email_provider": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": fakes.smtp_port,
        "smtp_starttls": False,
        "outbox_dir": tmp_path / "outbox",
        "lease_seconds": 30,
    }
    values.update(dispatch)
    return Settings(
        store=store_settings(database_url, redis_url),
        dispatch=DispatchSettings(**values),
        web=WebSettings(),
    )


@dataclass
class Running:
    settings: Settings
    dispatching: Dispatching
    worker: dramatiq.Worker
    control: Runtime  # for the test's own calls (approve, cancel…), on the test's loop
    namespace: str


@asynccontextmanager
async def running_dispatch(
    settings: Settings, clock: Callable[[], datetime], threads: int = 4
) -> AsyncIterator[Running]:
    namespace = f"gctest-{uuid.uuid4().hex[:10]}"
    dispatching = wire(settings, namespace, clock)
    worker = start_workers(dispatching, threads)
    control = dispatching.control_runtime(settings, clock)
    try:
        yield Running(settings, dispatching, worker, control, namespace)
    finally:
        await asyncio.to_thread(stop_workers, worker)
        await control.close()
        dispatching.broker.close()
        if settings.store.redis_url:
            await _forget_namespace(settings.store.redis_url, namespace)


async def _forget_namespace(redis_url: str, namespace: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(f"{namespace}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def make_guests(
    database: Database,
    count: int,
    *,
    tier: Tier = Tier.ENTERPRISE,
    sms_consent: bool = True,
) -> tuple[int, int, Member, Member]:
    """An organisation with ``count`` guests (email + phone), a planner and an approver."""
    async with database.transaction() as session:
        organisations = OrganisationRepository(session)
        organisation = await organisations.create(
            PLANNER,
            slug=f"org-{uuid.uuid4().hex[:6]}",
            name="Evergreen Weddings",
            tier=tier,
            postal_address="1 Market Street, Philadelphia, PA 19107",
            sender_name="Evergreen Weddings",
            sender_email="hello@evergreen.example.com",
            default_country="US",
            timezone="America/New_York",
        )
        planner = await organisations.add_member(
            PLANNER, organisation.id, slack_user_id="U_PLANNER", role=Role.PLANNER
        )
        approver = await organisations.add_member(
            APPROVER, organisation.id, slack_user_id="U_APPROVER", role=Role.APPROVER
        )
        wedding = await WeddingRepository(session).create(
            PLANNER,
            organisation.id,
            slug="big-day",
            couple_names="Alex & Sam",
            wedding_date=date(2027, 6, 12),
            venue_name="Willow Creek Barn",
            rsvp_link="https://alexandsam.example.com/rsvp",
            timezone="America/New_York",
        )
        now = utcnow()
        result = await session.execute(
            insert(Guest).returning(Guest.id, sort_by_parameter_order=True),
            [
                {
                    "wedding_id": wedding.id,
                    "name": f"Guest {n}",
                    "email": f"guest{n}@example.com",
                    "phone": f"+1201{n // 10000 + 200:03d}{n % 10000:04d}",
                    "rsvp_status": "pending",
                    "party_size": 1,
                    "plus_one": False,
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(count)
            ],
        )
        ids = list(result.scalars())
        if sms_consent:
            await session.execute(
                insert(ConsentRecord),
                [
                    {
                        "organisation_id": organisation.id,
                        "guest_id": guest_id,
                        "channel": Channel.SMS,
                        "granted": True,
                        "source": "test",
                        "text_shown": "Texts about the wedding",
                        "recorded_by": "test",
                        "created_at": now,
                    }
                    for guest_id in ids
                ],
            )
    return organisation.id, wedding.id, planner, approver


async def draft_for_approval(
    database: Database,
    organisation_id: int,
    wedding_id: int,
    planner: Member,
    *,
    channels: tuple[Channel, ...] = (Channel.EMAIL, Channel.SMS),
    **content: Any,
) -> int:
    async with database.transaction() as session:
        campaigns = CampaignRepository(session)
        campaign = await campaigns.create(
            PLANNER,
            organisation_id=organisation_id,
            wedding_id=wedding_id,
            name="Invitations",
            channels=channels,
            template_key=content.pop("template_key", "invitation"),
            created_by_member_id=planner.id,
            **content,
        )
        await campaigns.transition(campaign.id, CampaignState.PENDING_APPROVAL, PLANNER)
    return campaign.id


async def accepted_by_provider(
    database: Database, channel: Channel, provider: str, new_id: Callable[[], str], guests: int = 3
) -> dict[str, str]:
    """A campaign whose messages to ``guests`` guests the provider accepted (status
    "sent"), as reports about them arrive: the provider's message id → address."""
    organisation_id, wedding_id, planner, _ = await make_guests(database, guests)
    campaign_id = await draft_for_approval(
        database, organisation_id, wedding_id, planner, channels=(channel,)
    )
    now = utcnow()
    ids: dict[str, str] = {}
    rows = []
    async with database.transaction() as session:
        for guest in await session.scalars(select(Guest).order_by(Guest.id)):
            address = guest.phone if channel == Channel.SMS else guest.email
            assert address is not None
            message_id = new_id()
            ids[message_id] = address
            rows.append(
                {
                    "campaign_id": campaign_id,
                    "guest_id": guest.id,
                    "channel": channel,
                    "address": address,
                    "status": DeliveryStatus.SENT,
                    "provider": provider,
                    "provider_message_id": message_id,
                    "sent_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        await session.execute(insert(Delivery), rows)
    return ids


async def wait_for_state(
    database: Database,
    campaign_id: int,
    states: set[CampaignState],
    within: float = 60,
    tick: Callable[[], Any] | None = None,
) -> Campaign:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with database.reading() as session:
            campaign = await session.get(Campaign, campaign_id)
            assert campaign is not None
            if campaign.state in states:
                return campaign
        if asyncio.get_running_loop().time() > deadline:
            async with database.reading() as session:
                rows = (
                    await session.execute(
                        select(Delivery.status, Delivery.error_message).where(
                            Delivery.campaign_id == campaign_id
                        )
                    )
                ).all()
            summary: dict[str, int] = {}
            for status, _ in rows:
                summary[str(status)] = summary.get(str(status), 0) + 1
            raise AssertionError(
                f"campaign {campaign_id} is {campaign.state}, not {states}, after {within} s; "
                f"deliveries: {summary}; errors: {[e for _, e in rows if e][:3]}"
            )
        if tick is not None:
            await tick()
        await asyncio.sleep(0.1)


async def deliveries(database: Database, campaign_id: int) -> list[Delivery]:
    async with database.reading() as session:
        return list(
            await session.scalars(
                select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)
            )
        )


async def set_tier(database: Database, organisation_id: int, tier: Tier) -> None:
    async with database.transaction() as session:
        organisation = await session.get(Organisation, organisation_id)
        assert organisation is not None
        organisation.tier = tier


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def until(condition: Callable[[], Any], within: float = 30, what: str = "it") -> None:
    """Wait for ``condition()`` (plain or awaitable) to hold, failing after ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.02)

"""The scheduler's tick: settle what workers left behind, wake what waited, start what is
due, and apply providers' reports that arrived before the send was recorded.

The database is the source of truth. A delivery whose lease expired was
claimed by a worker that died or stalled; before anything is sent again
the provider is asked whether it accepted the message (Twilio lists
messages to a number; email re-sends carry the same Message-ID and
idempotency key, so the receiving side sees one message).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update

from dispatch.batches import enqueue_rows
from dispatch.completion import complete_if_done
from dispatch.compose.composer import CampaignContent, Composer, OrganisationFacts
from dispatch.compose.tokens import GuestFacts, WeddingFacts
from dispatch.control import due_scheduled, sending_campaigns, start_sending
from dispatch.delivery_reports import apply_early_reports
from dispatch.providers.base import ProviderError
from dispatch.runtime import Runtime
from store.audit import SYSTEM
from store.enums import Channel, DeliveryStatus
from store.errors import StoreError
from store.models import Campaign, Delivery, Guest, Organisation, Wedding
from store.repositories.deliveries import DeliveryRepository
from store.repositories.deliveries import Outcome as Settled
from store.repositories.guests import groups_by_guest


@dataclass
class TickReport:
    settled_sent: int = 0
    released: int = 0
    woken: int = 0
    requeued: int = 0
    started: int = 0
    completed: int = 0
    early_reports_applied: int = 0


async def tick(runtime: Runtime) -> TickReport:
    report = TickReport()
    await _settle_expired_leases(runtime, report)
    now = runtime.clock()
    async with runtime.database.transaction() as session:
        woken = await DeliveryRepository(session).wake_deferred(now)
        await session.execute(
            update(Campaign)
            .where(Campaign.throttled_until <= now)
            .values(throttled_until=None)
            .execution_options(synchronize_session=False)
        )
    report.woken = len(woken)
    stale: list[tuple[int, int]] = []
    forgot = await asyncio.to_thread(runtime.broker_forgot)
    if forgot or await asyncio.to_thread(runtime.backlog) == 0:
        # Rows wait that no message will come for: Redis lost its data (its
        # queue may hold new work again by now), or the broker holds nothing
        # (an in-process broker restarted). Enqueue again; a duplicate
        # message would claim nothing.
        stale_since = now - timedelta(seconds=runtime.settings.stale_pending_seconds)
        async with runtime.database.reading() as session:
            stale = await DeliveryRepository(session).stale_pending(stale_since)
    report.requeued = enqueue_rows(runtime, [*woken, *stale])
    for campaign_id in await due_scheduled(runtime):
        try:
            await start_sending(runtime, campaign_id, SYSTEM)
            report.started += 1
        except StoreError:
            continue  # cancelled or started meanwhile
    for campaign_id in await sending_campaigns(runtime):
        report.completed += await complete_if_done(runtime, campaign_id)
    report.early_reports_applied = await apply_early_reports(runtime)
    return report


async def _settle_expired_leases(runtime: Runtime, report: TickReport) -> None:
    grace = timedelta(seconds=runtime.settings.lease_margin_seconds)
    async with runtime.database.reading() as session:
        expired = await DeliveryRepository(session).expired_leases(runtime.clock() - grace)
    by_owner: dict[str, list[Settled]] = {}
    for delivery in expired:
        outcome = await _what_happened(runtime, delivery)
        if outcome is None:
            continue  # the provider could not be asked now; next tick
        by_owner.setdefault(delivery.lease_owner or "", []).append(outcome)
        if outcome.status == DeliveryStatus.SENT:
            report.settled_sent += 1
        else:
            report.released += 1
    for owner, outcomes in by_owner.items():
        async with runtime.database.transaction() as session:
            await DeliveryRepository(session).settle(owner, outcomes, runtime.clock())
    rows = [(d.campaign_id, d.id) for d in expired]
    if rows:
        enqueue_rows(runtime, rows)


async def _what_happened(runtime: Runtime, delivery: Delivery) -> Settled | None:
    if delivery.channel == Channel.EMAIL:
        # Sent again with the same Message-ID and idempotency key.
        return Settled(delivery.id, DeliveryStatus.PENDING)
    assert delivery.lease_expires_at is not None
    since = delivery.lease_expires_at - timedelta(seconds=runtime.settings.lease_seconds + 3600)
    try:
        records = await runtime.sms.sent_to(delivery.address, since)
    except ProviderError:
        return None
    expected = await _expected_sms(runtime, delivery)
    for record in records:
        if expected is not None and record.body == expected:
            return Settled(
                delivery.id,
                DeliveryStatus.SENT,
                provider=runtime.sms.name,
                provider_message_id=record.provider_message_id,
            )
    return Settled(delivery.id, DeliveryStatus.PENDING)


async def _expected_sms(runtime: Runtime, delivery: Delivery) -> str | None:
    """The text this delivery would have carried, to recognise it at the provider."""
    async with runtime.database.reading() as session:
        campaign = await session.get(Campaign, delivery.campaign_id)
        guest = await session.get(Guest, delivery.guest_id) if delivery.guest_id else None
        if campaign is None or guest is None:
            return None
        wedding = await session.get(Wedding, campaign.wedding_id)
        organisation = await session.get(Organisation, campaign.organisation_id)
        if wedding is None or organisation is None:
            return None
        groups = await groups_by_guest(session, wedding.id)
    facts = GuestFacts.of(guest, groups.get(guest.id, ()))
    composer = Composer(
        CampaignContent.of(campaign),
        WeddingFacts.of(wedding, organisation),
        OrganisationFacts.of(organisation, runtime.settings.email_from),
        for_sending=True,
    )
    return composer.sms_text(facts)

"""The figures planners and operators read: sent, delivery rate, opens and clicks,
unsubscribes and complaints, campaigns and their progress, delivery over time.

Each is scoped to the whole install, an organisation, a wedding or one
campaign (``Scope``). Definitions (the README repeats them):

- *sent*: handed to the provider in the window (``sent_at``).
- *delivery rate*: of the messages that reached an outcome in the window
  (sent, delivered, failed or undelivered), the share that did not fail.
  SMTP never confirms delivery, so "accepted and not reported failed" is
  the one measure that means the same for both channels; confirmed
  deliveries are counted apart.
- *open / click rate*: of the emails sent in the window by organisations
  that track, the share with at least one counted open (a counted click
  also counts as an open: images may be off) / click. Scanners are not
  counted (handlers/link_scanners.py).
- *unsubscribe rate*: opt-outs (STOP, unsubscribe) recorded in the window
  over messages sent; *complaint rate*: spam complaints over emails sent.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import CampaignState, Channel, DeliveryStatus, SuppressionReason
from store.models import Campaign, Delivery, EmailEngagement, Organisation, Suppression
from store.repositories.campaigns import not_deleted
from store.repositories.deliveries import FINAL

OUTCOMES = (
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.FAILED,
    DeliveryStatus.UNDELIVERED,
)
FAILED = (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
OK = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
OPT_OUTS = (SuppressionReason.STOP, SuppressionReason.UNSUBSCRIBE)
# Campaigns whose progress is worth showing.
UNDER_WAY = (CampaignState.SCHEDULED, CampaignState.SENDING, CampaignState.PAUSED)


@dataclass(frozen=True, slots=True)
class Scope:
    organisation_id: int | None = None
    wedding_id: int | None = None
    campaign_id: int | None = None

    def campaigns(self) -> list[Any]:
        # Deleted campaigns, and so the messages they sent, vanish from the figures.
        conditions: list[Any] = [not_deleted()]
        if self.organisation_id is not None:
            conditions.append(Campaign.organisation_id == self.organisation_id)
        if self.wedding_id is not None:
            conditions.append(Campaign.wedding_id == self.wedding_id)
        if self.campaign_id is not None:
            conditions.append(Campaign.id == self.campaign_id)
        return conditions

    def deliveries(self, *columns: Any) -> Select[Any]:
        return (
            select(*columns)
            .select_from(Delivery)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(*self.campaigns())
        )


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    sent: int
    outcomes: int
    failed: int
    delivered: int  # confirmed by the provider

    @property
    def delivery_rate(self) -> float | None:
        return (self.outcomes - self.failed) / self.outcomes if self.outcomes else None


@dataclass(frozen=True, slots=True)
class Engagement:
    tracked: int  # emails sent by organisations that track
    opened: int
    clicked: int

    @property
    def open_rate(self) -> float | None:
        return self.opened / self.tracked if self.tracked else None

    @property
    def click_rate(self) -> float | None:
        return self.clicked / self.tracked if self.tracked else None


@dataclass(frozen=True, slots=True)
class Progress:
    campaign_id: int
    name: str
    state: CampaignState
    total: int
    finished: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.finished / self.total, 1) if self.total else None


class BusinessFigures:
    def __init__(self, session: AsyncSession, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    async def channels(self, since: datetime) -> dict[Channel, ChannelFigures]:
        settled_at = func.coalesce(Delivery.sent_at, Delivery.updated_at)
        rows = await self.session.execute(
            self.scope.deliveries(
                Delivery.channel,
                func.count(Delivery.sent_at),
                func.count(),
                func.count().filter(Delivery.status.in_(FAILED)),
                func.count().filter(Delivery.status == DeliveryStatus.DELIVERED),
            )
            .where(Delivery.status.in_(OUTCOMES), settled_at >= since)
            .group_by(Delivery.channel)
        )
        figures = {channel: ChannelFigures(0, 0, 0, 0) for channel in Channel}
        for channel, sent, outcomes, failed, delivered in rows:
            figures[Channel(channel)] = ChannelFigures(sent, outcomes, failed, delivered)
        return figures

    async def engagement(self, since: datetime) -> Engagement:
        tracked = (
            self.scope.deliveries(Delivery.id)
            .join(Organisation, Organisation.id == Campaign.organisation_id)
            .where(
                Organisation.email_tracking.is_(True),
                Delivery.channel == Channel.EMAIL,
                Delivery.sent_at >= since,
            )
            .subquery()
        )
        counted = EmailEngagement.ignored_because.is_(None)
        row = (
            await self.session.execute(
                select(
                    func.count(distinct(tracked.c.id)),
                    func.count(distinct(EmailEngagement.delivery_id)),
                    func.count(distinct(EmailEngagement.delivery_id)).filter(
                        EmailEngagement.kind == "click"
                    ),
                )
                .select_from(tracked)
                .outerjoin(
                    EmailEngagement, and_(EmailEngagement.delivery_id == tracked.c.id, counted)
                )
            )
        ).one()
        return Engagement(row[0], row[1], row[2])

    async def suppressions(self, since: datetime) -> dict[str, int]:
        """Opt-outs and complaints in the window (by the guests in scope, when narrower
        than an organisation: a ledger entry names an address, not a campaign)."""
        query = select(Suppression.reason, func.count()).where(
            Suppression.created_at >= since,
            Suppression.reason.in_((*OPT_OUTS, SuppressionReason.COMPLAINT)),
        )
        if self.scope.organisation_id is not None:
            query = query.where(Suppression.organisation_id == self.scope.organisation_id)
        if self.scope.wedding_id is not None or self.scope.campaign_id is not None:
            addresses = self.scope.deliveries(Delivery.address)
            query = query.where(Suppression.address.in_(addresses))
        rows = await self.session.execute(query.group_by(Suppression.reason))
        counts = {"opt_outs": 0, "complaints": 0}
        for reason, count in rows:
            key = "complaints" if reason == SuppressionReason.COMPLAINT else "opt_outs"
            counts[key] += count
        return counts

    async def campaigns_by_state(self) -> dict[CampaignState, int]:
        rows = await self.session.execute(
            select(Campaign.state, func.count())
            .where(*self.scope.campaigns())
            .group_by(Campaign.state)
        )
        return {CampaignState(state): count for state, count in rows}

    async def progress(self, limit: int = 20) -> list[Progress]:
        """Campaigns under way (or the scope's one campaign, whatever its state)."""
        query = select(Campaign.id, Campaign.name, Campaign.state).where(*self.scope.campaigns())
        if self.scope.campaign_id is None:
            query = query.where(Campaign.state.in_(UNDER_WAY))
        campaigns = list(await self.session.execute(query.order_by(Campaign.id).limit(limit)))
        if not campaigns:
            return []
        counts = await self.session.execute(
            select(
                Delivery.campaign_id,
                func.count(),
                func.count().filter(Delivery.status.in_(FINAL)),
            )
            .where(Delivery.campaign_id.in_([c.id for c in campaigns]))
            .group_by(Delivery.campaign_id)
        )
        totals = {campaign_id: (total, done) for campaign_id, total, done in counts}
        return [
            Progress(c.id, c.name, CampaignState(c.state), *totals.get(c.id, (0, 0)))
            for c in campaigns
        ]

    async def delivered_over_time(
        self, since: datetime, until: datetime, bucket: timedelta
    ) -> tuple[list[datetime], dict[Channel, list[int]]]:
        """Messages that left and did not fail, per channel, counted per ``bucket``."""
        count = max(1, math.ceil((until - since) / bucket))
        starts = [since + i * bucket for i in range(count)]
        series: dict[Channel, list[int]] = defaultdict(lambda: [0] * count)
        rows = await self.session.execute(
            self.scope.deliveries(Delivery.channel, Delivery.sent_at).where(
                Delivery.status.in_(OK), Delivery.sent_at >= since, Delivery.sent_at < until
            )
        )
        for channel, sent_at in rows:
            series[Channel(channel)][min(count - 1, int((sent_at - since) / bucket))] += 1
        return starts, {channel: series[channel] for channel in Channel}


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything a dashboard shows for one scope and window."""

    since: datetime
    day_start: datetime
    sent_today: dict[Channel, int]
    channels: dict[Channel, ChannelFigures]
    engagement: Engagement
    opt_outs: int
    complaints: int
    campaigns: dict[CampaignState, int]
    under_way: list[Progress]

    @property
    def sent(self) -> int:
        return sum(figures.sent for figures in self.channels.values())

    @property
    def unsubscribe_rate(self) -> float | None:
        return self.opt_outs / self.sent if self.sent else None

    @property
    def complaint_rate(self) -> float | None:
        emails = self.channels[Channel.EMAIL].sent
        return self.complaints / emails if emails else None


async def summarise(
    session: AsyncSession, scope: Scope, since: datetime, day_start: datetime
) -> Summary:
    figures = BusinessFigures(session, scope)
    today = await figures.channels(day_start)
    suppressions = await figures.suppressions(since)
    return Summary(
        since=since,
        day_start=day_start,
        sent_today={channel: today[channel].sent for channel in Channel},
        channels=await figures.channels(since),
        engagement=await figures.engagement(since),
        opt_outs=suppressions["opt_outs"],
        complaints=suppressions["complaints"],
        campaigns=await figures.campaigns_by_state(),
        under_way=await figures.progress(),
    )

"""Following a campaign in Slack: one progress message, edited in place, then a report.

The message goes in the campaign's conversation thread (or, for a campaign
made elsewhere, the wedding's channel). It is edited at most once per
``slack_progress_every_seconds`` and only when what it shows changed; the
database says who may edit it when, so several web processes share the work.
Everything is said with the bot token of the campaign's organisation's own
workspace; an organisation without one is not followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.slack.progress_text import Followed, Rendered, final_report, progress_message
from bot.slack.requests import post
from bot.slack.services import BotServices
from bot.slack.workspace_clients import WorkspaceClients
from store.campaign_states import FINAL_STATES
from store.enums import CampaignState
from store.models import Campaign, Conversation, SlackMessage, Wedding
from store.repositories.campaign_figures import campaign_figures
from store.repositories.slack_messages import PROGRESS, REPORT, SlackMessages

FOLLOWED_STATES = (CampaignState.SENDING, CampaignState.PAUSED)
# A claim to post whose process died is taken over after this long.
STALE_CLAIM = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Spot:
    """Where a campaign's messages go."""

    channel_id: str
    thread_ts: str | None


async def followed(session: AsyncSession, campaign_id: int) -> Followed | None:
    row = (
        await session.execute(
            select(Campaign, Wedding.timezone)
            .join(Wedding, Wedding.id == Campaign.wedding_id)
            .where(Campaign.id == campaign_id)
        )
    ).first()
    if row is None:
        return None
    campaign, timezone = row
    figures = await campaign_figures(session, campaign_id)
    return Followed(
        campaign.id,
        campaign.organisation_id,
        campaign.name,
        campaign.state,
        figures,
        campaign.throttled_until,
        timezone,
    )


async def spot_for(session: AsyncSession, campaign_id: int) -> Spot | None:
    """The campaign's conversation thread; else the wedding's channel; else nowhere."""
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.campaign_id == campaign_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if conversation is not None:
        return Spot(conversation.channel_id, conversation.thread_ts)
    channel = await session.scalar(
        select(Wedding.slack_channel_id)
        .join(Campaign, Campaign.wedding_id == Wedding.id)
        .where(Campaign.id == campaign_id)
    )
    return Spot(channel, None) if channel else None


class CampaignFollower:
    def __init__(self, services: BotServices, clients: WorkspaceClients) -> None:
        self.services = services
        self.clients = clients
        self.every = timedelta(seconds=services.settings.slack.slack_progress_every_seconds)

    async def campaigns_to_refresh(self) -> list[int]:
        """Campaigns sending or paused, and any whose message still shows them unfinished
        (cancelled, or completed before its event was read)."""
        async with self.services.database.reading() as session:
            live = await session.scalars(
                select(Campaign.id).where(Campaign.state.in_(FOLLOWED_STATES))
            )
            ids = set(live) | set(await SlackMessages(session).open_progress_campaigns())
        return sorted(ids)

    async def refresh(self, campaign_id: int) -> bool:
        """Make the progress message show the figures now. False when it cannot yet
        (edited too recently, or another process is posting it)."""
        now = self.services.clock()
        async with self.services.database.transaction() as session:
            campaign = await followed(session, campaign_id)
            if campaign is None:
                return True
            messages = SlackMessages(session)
            row = await messages.find(PROGRESS, campaign_id=campaign_id)
            spot = await spot_for(session, campaign_id) if row is None else None
        client = await self.clients.for_organisation(campaign.organisation_id)
        if client is None:
            return True  # no workspace to show it in (the app is not installed there)
        rendered = progress_message(campaign, now)
        closed = campaign.state in FINAL_STATES
        if row is None:
            if spot is None:
                return True  # nowhere to show it: the organisation has no place for it
            return await self._post_progress(client, campaign, spot, rendered, closed)
        if not row.ts:
            return await self._take_over(client, row, rendered, closed)
        if row.digest == rendered.digest:
            return True
        async with self.services.database.transaction() as session:
            allowed = await SlackMessages(session).claim_edit(row.id, now - self.every, now)
        if not allowed:
            return False
        await client.chat_update(
            channel=row.channel_id, ts=row.ts, text=rendered.text, blocks=rendered.blocks
        )
        async with self.services.database.transaction() as session:
            await SlackMessages(session).edited(row.id, rendered.digest, now, closed=closed)
        return True

    async def _post_progress(
        self,
        client: AsyncWebClient,
        campaign: Followed,
        spot: Spot,
        rendered: Rendered,
        closed: bool,
    ) -> bool:
        now = self.services.clock()
        async with self.services.database.transaction() as session:
            claimed = await SlackMessages(session).claim(
                campaign.organisation_id,
                PROGRESS,
                spot.channel_id,
                now,
                thread_ts=spot.thread_ts,
                campaign_id=campaign.id,
            )
        if claimed is None:
            return False  # another process is posting it
        await self._post_claimed(client, claimed, spot, rendered, closed)
        return True

    async def _take_over(
        self, client: AsyncWebClient, row: SlackMessage, rendered: Rendered, closed: bool
    ) -> bool:
        now = self.services.clock()
        async with self.services.database.transaction() as session:
            taken = await SlackMessages(session).take_over(row.id, now - STALE_CLAIM, now)
        if taken:
            spot = Spot(row.channel_id, row.thread_ts)
            await self._post_claimed(client, row.id, spot, rendered, closed)
        return taken

    async def _post_claimed(
        self,
        client: AsyncWebClient,
        message_id: int,
        spot: Spot,
        rendered: Rendered,
        closed: bool,
    ) -> None:
        try:
            ts = await post(
                client,
                spot.channel_id,
                rendered.text,
                rendered.blocks,
                thread_ts=spot.thread_ts,
            )
        except BaseException:
            async with self.services.database.transaction() as session:
                await SlackMessages(session).unclaim(message_id)
            raise
        async with self.services.database.transaction() as session:
            await SlackMessages(session).posted(
                message_id,
                spot.channel_id,
                ts,
                rendered.digest,
                self.services.clock(),
                closed=closed,
            )

    async def finish(self, campaign_id: int) -> bool:
        """Final figures, then the report in the thread. False: try again later."""
        if not await self.refresh(campaign_id):
            return False
        async with self.services.database.reading() as session:
            campaign = await followed(session, campaign_id)
            progress = await SlackMessages(session).find(PROGRESS, campaign_id=campaign_id)
        if campaign is None or progress is None or campaign.state not in FINAL_STATES:
            return True  # gone, nowhere to report, or already sending again (retried)
        client = await self.clients.for_organisation(campaign.organisation_id)
        if client is None:
            return True  # the workspace removed the app since the progress was posted
        report = final_report(campaign)
        now = self.services.clock()
        thread = progress.thread_ts or progress.ts
        async with self.services.database.transaction() as session:
            claimed = await SlackMessages(session).claim(
                progress.organisation_id,
                REPORT,
                progress.channel_id,
                now,
                thread_ts=thread,
                campaign_id=campaign_id,
            )
        assert claimed is not None  # reports are not unique: one per finish
        spot = Spot(progress.channel_id, thread)
        await self._post_claimed(client, claimed, spot, report, False)
        return True

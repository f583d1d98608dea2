"""Finding a campaign from Slack: by its number, with its preview, and the thread where
news of it goes (the conversation it was made in)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.slack import conversations
from bot.slack.campaign_views import preview_blocks, preview_text
from bot.slack.errors import SlackBotError
from bot.slack.requests import CommandRequest, post
from dispatch.compose.preview import CampaignPreview, preview_campaign
from store.models import Campaign, Wedding


class NotThatCampaign(SlackBotError):
    """A campaign number that does not name one of the organisation's campaigns."""


@dataclass(frozen=True, slots=True)
class Previewed:
    campaign: Campaign
    preview: CampaignPreview
    zone: str  # the wedding's time zone: schedules are read and written in it


def campaign_number(text: str) -> int:
    cleaned = text.strip().lstrip("#")
    if not cleaned.isdigit():
        raise NotThatCampaign(
            f"“{text}” is not a campaign number. `/comms campaign list` shows them."
        )
    return int(cleaned)


async def load(session: AsyncSession, organisation_id: int, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.organisation_id != organisation_id:
        raise NotThatCampaign(
            f"There is no campaign {campaign_id}. `/comms campaign list` shows them."
        )
    if campaign.deleted_at is not None:
        raise NotThatCampaign(deleted_words(campaign_id))
    return campaign


def deleted_words(campaign_id: int) -> str:
    return (
        f"Campaign {campaign_id} was deleted. An owner or admin can bring it back with "
        f"`/comms campaign restore {campaign_id}`."
    )


async def previewed(request: CommandRequest, campaign_id: int) -> Previewed:
    services = request.services
    async with services.database.reading() as session:
        campaign = await load(session, request.caller.organisation.id, campaign_id)
        wedding = await session.get(Wedding, campaign.wedding_id)
        assert wedding is not None  # foreign key
        preview = await preview_campaign(
            session, campaign, services.settings.dispatch, services.clock()
        )
    return Previewed(campaign, preview, wedding.timezone)


async def show_preview(
    request: CommandRequest, campaign_id: int, where: tuple[str, str | None]
) -> str:
    found = await previewed(request, campaign_id)
    text = preview_text(found.campaign, found.preview, found.zone)
    blocks = preview_blocks(found.campaign, found.preview, found.zone)
    return await post(request.client, where[0], text, blocks, thread_ts=where[1])


async def thread_of(request: CommandRequest, campaign_id: int) -> tuple[str, str | None]:
    """Where news of a campaign goes: its conversation's thread, else where we were asked."""
    async with request.services.database.reading() as session:
        thread = await conversations.of_campaign(session, campaign_id)
    if thread is not None:
        return thread.channel_id, thread.thread_ts
    return request.place.channel_id, request.place.thread_ts


async def announce(request: CommandRequest, campaign_id: int, text: str) -> None:
    """Say it in the campaign's thread; when the person asked elsewhere, tell them too."""
    channel, thread_ts = await thread_of(request, campaign_id)
    await post(request.client, channel, text, thread_ts=thread_ts)
    if (channel, thread_ts) != (request.place.channel_id, request.place.thread_ts):
        await request.say(text)

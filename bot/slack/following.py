"""The buttons on the messages that follow campaigns and guests: Retry failed on a
campaign's report, Keep opted out on a likely opt-out's review card.

Both ack first and work after. Keep opted out also exists as a typed command,
``/comms optouts keep N``; Retry failed is ``/comms campaign retry N``.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.slack.access import Caller
from bot.slack.campaign_lookup import deleted_words
from bot.slack.command_table import Command
from bot.slack.errors import UsageError
from bot.slack.guest_note_text import KEEP_OPTED_OUT_ACTION, reviewed_card
from bot.slack.progress_text import RETRY_ACTION, retried_report
from bot.slack.requests import CommandRequest, clicked_number
from bot.slack.router import BotWiring
from bot.slack.services import BotServices
from dispatch import control
from store.models import Campaign, Guest, SlackMessage
from store.permissions import Action
from store.repositories.campaign_figures import campaign_figures
from store.repositories.slack_messages import OPT_OUT_REVIEW, SlackMessages


def register(bolt: AsyncApp, wiring: BotWiring) -> None:
    services = wiring.services

    async def retry_pressed(request: CommandRequest, body: dict[str, Any]) -> None:
        campaign_id = clicked_number(body, "a campaign", "/comms campaign retry N")
        name, count = await retry_failed(services, request.caller, campaign_id)
        rendered = retried_report(campaign_id, name, request.place.user_id, count)
        await request.client.chat_update(
            channel=request.place.channel_id,
            ts=_message_ts(body),
            text=rendered.text,
            blocks=rendered.blocks,
        )

    async def keep_pressed(request: CommandRequest, body: dict[str, Any]) -> None:
        review_id = clicked_number(body, "a review", "/comms optouts keep N")
        await keep_opted_out(services, request.client, request.caller, review_id)

    async def keep_typed(request: CommandRequest) -> None:
        if len(request.arguments) != 1 or not request.arguments[0].lstrip("#").isdigit():
            raise UsageError(
                "Say which review card: `/comms optouts keep 12` (its number is on the card)."
            )
        review_id = int(request.arguments[0].lstrip("#"))
        await keep_opted_out(services, request.client, request.caller, review_id)
        await request.tell(f"Review #{review_id} is marked reviewed: kept opted out.")

    wiring.button(bolt, RETRY_ACTION, Action.PLAN_CAMPAIGN, retry_pressed)
    wiring.button(bolt, KEEP_OPTED_OUT_ACTION, Action.REVIEW_OPT_OUTS, keep_pressed)
    wiring.table.add(
        Command(
            words=("optouts", "keep"),
            arguments="<review number>",
            summary="mark a likely opt-out's review card reviewed; the guest stays opted out",
            example="/comms optouts keep 12",
            group="Compliance",
            action=Action.REVIEW_OPT_OUTS,
            run=keep_typed,
        )
    )


async def retry_failed(services: BotServices, caller: Caller, campaign_id: int) -> tuple[str, int]:
    """Send the campaign's failed messages again; its name and how many."""
    async with services.database.reading() as session:
        campaign = await session.scalar(
            select(Campaign).where(
                Campaign.id == campaign_id,
                Campaign.organisation_id == caller.organisation.id,
            )
        )
        if campaign is None:
            raise UsageError(f"There is no campaign {campaign_id} in your organisation.")
        if campaign.deleted_at is not None:
            raise UsageError(deleted_words(campaign_id))
        failed = (await campaign_figures(session, campaign_id)).failed
    if not failed:
        raise UsageError(
            f"Nothing failed in campaign {campaign_id} “{campaign.name}”: "
            "there is nothing to send again."
        )
    count = await control.retry_failed(services.runtime, campaign_id, caller.actor)
    return campaign.name, count


async def keep_opted_out(
    services: BotServices, client: AsyncWebClient, caller: Caller, review_id: int
) -> None:
    """Mark the card reviewed. The opt-out itself stays: only the guest may undo it."""
    async with services.database.transaction() as session:
        row = await session.scalar(
            select(SlackMessage).where(
                SlackMessage.id == review_id,
                SlackMessage.purpose == OPT_OUT_REVIEW,
                SlackMessage.organisation_id == caller.organisation.id,
            )
        )
        if row is None or not row.ts:
            raise UsageError(f"There is no opt-out review card #{review_id}.")
        if row.closed_by is not None:
            raise UsageError(f"Review #{review_id} was already reviewed by <@{row.closed_by}>.")
        user_id = caller.member.slack_user_id
        if not await SlackMessages(session).close(row.id, user_id, services.clock()):
            raise UsageError(f"Review #{review_id} was reviewed by someone else just now.")
        guest = await session.get(Guest, row.guest_id) if row.guest_id else None
    text, blocks = reviewed_card(review_id, guest.name if guest else "the guest", user_id)
    await client.chat_update(channel=row.channel_id, ts=row.ts, text=text, blocks=blocks)


def _message_ts(body: dict[str, Any]) -> str:
    return str((body.get("container") or {}).get("message_ts") or body["message"]["ts"])

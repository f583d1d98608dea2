"""Campaigns for the demo organisation, approved and sent as in production, for the
tests that watch them in Slack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from dispatch.approval import approve_campaign
from store.demo import DEMO_ORGANISATION, DEMO_WEDDING
from store.enums import Channel, Role
from store.models import Conversation, Guest, Member, Organisation, Wedding
from tests.dispatch_harness import APPROVER, draft_for_approval
from tests.fakes.twilio import AUTH_TOKEN
from tests.slack_harness import CHANNEL, SlackBot
from tests.twilio_webhook_client import post_signed, text_from

WEDDING_CHANNEL = "C_ALEX_AND_SAM"
ORGANISATION_NUMBER = "+12015550100"  # the demo organisation's texting number
CAMPAIGN_THREAD = "1800000000.000001"


@dataclass(frozen=True)
class Demo:
    organisation_id: int
    wedding_id: int
    planner: Member
    approver: Member


async def demo(bot: SlackBot) -> Demo:
    async with bot.database.reading() as session:
        organisation_id = await session.scalar(
            select(Organisation.id).where(Organisation.slug == DEMO_ORGANISATION)
        )
        wedding_id = await session.scalar(select(Wedding.id).where(Wedding.slug == DEMO_WEDDING))
        members = {
            member.role: member
            for member in await session.scalars(
                select(Member).where(Member.organisation_id == organisation_id)
            )
        }
    assert organisation_id is not None
    assert wedding_id is not None
    return Demo(organisation_id, wedding_id, members[Role.PLANNER], members[Role.APPROVER])


def progress_posts(bot: SlackBot, campaign_id: int) -> list[dict[str, Any]]:
    """The progress messages posted for the campaign (each edited in place after)."""
    return [
        p
        for p in bot.fake.payloads("chat.postMessage")
        if f"campaign {campaign_id} “" in str(p.get("text")) and "messages done" in str(p["text"])
    ]


async def give_wedding_a_channel(bot: SlackBot, channel: str = WEDDING_CHANNEL) -> None:
    async with bot.database.transaction() as session:
        await session.execute(update(Wedding).values(slack_channel_id=channel))


async def send_campaign(bot: SlackBot, *, in_thread: bool = True, **content: Any) -> int:
    """An SMS campaign to the demo guests, drafted (in a conversation thread when
    ``in_thread``, as `/comms campaign new` leaves it), approved and sending."""
    found = await demo(bot)
    campaign_id = await draft_for_approval(
        bot.database,
        found.organisation_id,
        found.wedding_id,
        found.planner,
        channels=(Channel.SMS,),
        **content,
    )
    if in_thread:
        async with bot.database.transaction() as session:
            session.add(
                Conversation(
                    organisation_id=found.organisation_id,
                    channel_id=CHANNEL,
                    thread_ts=f"{CAMPAIGN_THREAD[:-3]}{campaign_id:03d}",
                    user_id="U_PLANNER",
                    flow="campaign_new",
                    step="sent",
                    answers={},
                    campaign_id=campaign_id,
                )
            )
    await approve_campaign(bot.control, campaign_id, found.approver, APPROVER)
    return campaign_id


async def phone_of(bot: SlackBot, name: str) -> str:
    async with bot.database.reading() as session:
        guests = await session.execute(select(Guest.name, Guest.phone))
    # Names are encrypted: the guest is found in Python.
    phone = next(phone for guest, phone in guests if guest == name)
    assert phone is not None
    return phone


async def guest_texts(bot: SlackBot, name: str, body: str, http: Any = None) -> None:
    """A text from the guest, as Twilio posts it (signed) into the bot's app, or ``http``."""
    fields = text_from(await phone_of(bot, name), body, To=ORGANISATION_NUMBER)
    answer = await post_signed(
        http or bot.http,
        "/twilio/sms",
        fields,
        token=AUTH_TOKEN,
        signed_url=f"{bot.settings.dispatch.public_base_url}/twilio/sms",
    )
    assert answer.status == 200, await answer.text()

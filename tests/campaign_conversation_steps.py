"""Walking the campaign conversation in tests: answer in the thread, wait for the bot."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from store.models import Conversation
from tests.slack_harness import SlackBot


@dataclass
class Walked:
    thread_ts: str
    campaign_id: int


def count(bot: SlackBot, fragment: str) -> int:
    return sum(fragment in text for text in bot.fake.texts())


async def answer(
    bot: SlackBot, text: str, thread_ts: str, expect: str, *, user: str = "U_PLANNER"
) -> None:
    """Answer in the thread and wait for one more message containing ``expect``."""
    before = count(bot, expect)
    await bot.message(text, thread_ts=thread_ts, user=user)
    await bot.wait_for(lambda: count(bot, expect) > before, what=f"a new {expect!r}")


async def start(bot: SlackBot, user: str = "U_PLANNER") -> str:
    before = count(bot, "is preparing a new campaign")
    await bot.command("campaign new", user=user)
    await bot.wait_for(lambda: count(bot, "is preparing a new campaign") > before)
    roots = [
        m for m in bot.fake.messages.values() if "is preparing a new campaign" in str(m["text"])
    ]
    root = max(roots, key=lambda m: str(m["ts"]))
    await bot.wait_for(lambda: count(bot, "What should the campaign be called") > before)
    return str(root["ts"])


async def to_preview(
    bot: SlackBot,
    *,
    user: str = "U_PLANNER",
    name: str = "RSVP reminder, May",
    channels: str = "both",
    audience: str = "rsvp=pending",
    template: str = "2",
) -> Walked:
    thread_ts = await start(bot, user)
    await answer(bot, name, thread_ts, "Send it by", user=user)
    await answer(bot, channels, thread_ts, "is saved as a draft", user=user)
    await answer(bot, audience, thread_ts, "guests match", user=user)
    await answer(bot, template, thread_ts, "Preview of campaign", user=user)
    async with bot.database.reading() as session:
        campaign_id = await session.scalar(
            select(Conversation.campaign_id).where(Conversation.thread_ts == thread_ts)
        )
    assert campaign_id is not None
    return Walked(thread_ts, campaign_id)

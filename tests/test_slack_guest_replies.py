"""Guests' replies in the wedding's channel: RSVPs and other words threaded per guest,
opt-outs as one summary per pass, likely opt-outs as a review card that never offers
to undo the opt-out. Texts arrive as Twilio posts them, signed, into the same app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from store.models import Event, SlackMessage
from tests.dispatch_harness import midday_clock, until
from tests.following_helpers import (
    ORGANISATION_NUMBER,
    WEDDING_CHANNEL,
    give_wedding_a_channel,
    guest_texts,
)
from tests.slack_harness import SlackBot, running_bot


@pytest.fixture
async def bot(
    sqlite_database: Any, sqlite_database_url: str, tmp_path: Path
) -> AsyncIterator[SlackBot]:
    async with running_bot(sqlite_database, sqlite_database_url, tmp_path, midday_clock()) as b:
        await give_wedding_a_channel(b)
        yield b


def posts(bot: SlackBot, fragment: str) -> list[dict[str, Any]]:
    return [p for p in bot.fake.payloads("chat.postMessage") if fragment in str(p.get("text"))]


async def test_rsvps_and_other_replies_are_threaded_per_guest(bot: SlackBot) -> None:
    await guest_texts(bot, "Jorge Alvarez", "yes 2")
    first = await bot.said("Jorge Alvarez replied by SMS: “yes 2”")
    assert first["channel"] == WEDDING_CHANNEL
    assert "RSVP: yes, party of 2" in first["text"]
    assert not first.get("thread_ts")

    await guest_texts(bot, "Jorge Alvarez", "<!channel> what's the dress code?")
    second = await bot.said("dress code")
    # In Jorge's thread, his words escaped so they cannot ping the channel.
    assert second["thread_ts"] == first["ts"]
    assert "&lt;!channel&gt;" in second["text"]
    assert "<!channel>" not in second["text"]
    assert "please reply to them yourself" in second["text"]

    await guest_texts(bot, "Grace Kim", "can't make it, sorry")
    grace = await bot.said("Grace Kim replied by SMS")
    assert "RSVP: no" in grace["text"]
    assert not grace.get("thread_ts")
    await guest_texts(bot, "Grace Kim", "yes")
    again = await bot.said("Grace Kim replied by SMS: “yes”")
    assert again["thread_ts"] == grace["ts"]
    # One thread root per guest.
    assert len([p for p in posts(bot, "replied by SMS") if not p.get("thread_ts")]) == 2


async def test_opt_outs_arriving_together_make_one_summary(
    sqlite_database: Any, sqlite_database_url: str, tmp_path: Path
) -> None:
    # The texts arrive at a web process without Slack, so they wait for the next
    # process's first pass (its notifier looks once an hour: one pass only).
    async with running_bot(
        sqlite_database,
        sqlite_database_url,
        tmp_path,
        midday_clock(),
        progress_every=3600,
        slack_in_first_process=False,
    ) as bot:
        await give_wedding_a_channel(bot)
        for name in ("Daniel Kim", "Henry Kim", "Zoë Müller"):
            await guest_texts(bot, name, "STOP")
        await guest_texts(bot, "Aisha Bello", "START")
        async with bot.another_web_process():
            summary = await bot.said("opted out:")
        assert summary["channel"] == WEDDING_CHANNEL
        text = summary["text"]
        # "&" escaped as Slack wants it; Slack shows "Alex & Sam".
        assert text.startswith("Opt-outs for Alex &amp; Sam's wedding:")
        assert "3 guests opted out: Daniel Kim (SMS, replied “STOP”); Henry Kim" in text
        assert "Zoë Müller (SMS, replied “STOP”)" in text
        assert "only the guest can undo it" in text
        assert "1 guest opted back in: Aisha Bello (SMS, replied “START”)" in text
        assert len(posts(bot, "opted out:")) == 1
        # Not threaded per guest: the summary is the only note of these guests.
        assert not posts(bot, "Daniel Kim replied")


async def test_a_guest_who_texts_start_again_is_in_the_summary(bot: SlackBot) -> None:
    await guest_texts(bot, "Priya Natarajan", "STOP")
    await bot.said("1 guest opted out: Priya Natarajan (SMS, replied “STOP”)")
    await guest_texts(bot, "Priya Natarajan", "START")
    await bot.said("1 guest opted back in: Priya Natarajan (SMS, replied “START”)")


async def test_a_likely_opt_out_gets_a_review_card_that_keeps_the_opt_out(bot: SlackBot) -> None:
    await guest_texts(bot, "Hannah Lee", "please stop texting me")
    card = await bot.said("Please review")
    text = card["text"]
    assert "Hannah Lee wrote by SMS “please stop texting me”" in text
    assert "to be safe they are opted out" in text
    assert f"text START to {ORGANISATION_NUMBER}" in text
    buttons = [
        element["text"]["text"]
        for block in card["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert buttons == ["Keep opted out"]  # nothing that would undo the guest's opt-out
    review = text.split("(#")[1].split(")")[0]
    assert f"`/comms optouts keep {review}`" in text

    await bot.click("optout_review_keep", review, user="U_VIEWER", message_ts=card["ts"])
    await bot.told("To review an opt-out you need the", user="U_VIEWER")
    await bot.click("optout_review_keep", review, user="U_PLANNER", message_ts=card["ts"])
    await bot.wait_for(
        lambda: "Reviewed (#" in bot.fake.messages[(WEDDING_CHANNEL, card["ts"])]["text"]
    )
    reviewed = bot.fake.messages[(WEDDING_CHANNEL, card["ts"])]
    assert "<@U_PLANNER> kept Hannah Lee opted out" in reviewed["text"]
    assert not [b for b in reviewed["blocks"] if b["type"] == "actions"]

    # The typed command says it was done already, and bad input is named.
    await bot.command(f"optouts keep {review}", user="U_OWNER")
    await bot.told(f"Review #{review} was already reviewed by <@U_PLANNER>", user="U_OWNER")
    await bot.command("optouts keep soon", user="U_OWNER")
    await bot.told("Say which review card: `/comms optouts keep 12`", user="U_OWNER")
    await bot.command("optouts keep 999", user="U_OWNER")
    await bot.told("There is no opt-out review card #999", user="U_OWNER")


async def card_recorded(bot: SlackBot, review: str) -> None:
    """Wait until the bot has stored where its card is (a moment after Slack has it):
    a planner's typing is never that quick, a test's is."""

    async def recorded() -> bool:
        async with bot.database.reading() as session:
            return bool(await session.scalar(select(SlackMessage.ts).filter_by(id=int(review))))

    await until(recorded, what=f"review card #{review} to be recorded")


async def test_a_review_card_can_be_closed_by_typing(bot: SlackBot) -> None:
    await guest_texts(bot, "Hannah Lee", "remove me from this list")
    card = await bot.said("Please review")
    review = card["text"].split("(#")[1].split(")")[0]
    await card_recorded(bot, review)
    await bot.command(f"optouts keep #{review}", user="U_PLANNER")
    await bot.told(f"Review #{review} is marked reviewed: kept opted out.", user="U_PLANNER")
    assert "Reviewed (#" in bot.fake.messages[(WEDDING_CHANNEL, card["ts"])]["text"]


async def test_without_a_wedding_channel_replies_are_left_alone(
    sqlite_database: Any, sqlite_database_url: str, tmp_path: Path
) -> None:
    async with running_bot(sqlite_database, sqlite_database_url, tmp_path, midday_clock()) as bot:
        await guest_texts(bot, "Jorge Alvarez", "yes")
        await guest_texts(bot, "Daniel Kim", "STOP")

        async def all_handled() -> bool:
            async with bot.database.reading() as session:
                waiting = await session.scalar(
                    select(func.count()).select_from(Event).where(Event.handled_at.is_(None))
                )
            return waiting == 0

        await until(all_handled, what="the events to be handled")
        # A pass marks its events handled before it reads their weddings: an event
        # added now is claimed by a later pass, which proves that the pass that
        # claimed the replies has finished.
        async with bot.database.transaction() as session:
            session.add(Event(kind="guest.replied", payload={"guest_id": 0}))
        await until(all_handled, what="the next pass")
        assert not bot.fake.payloads("chat.postMessage")
        # A later reply, once the wedding has a channel, is the first one shown.
        await give_wedding_a_channel(bot)
        await guest_texts(bot, "Jorge Alvarez", "yes 3")
        note = await bot.said("Jorge Alvarez replied")
        assert "“yes 3”" in note["text"]
        assert len(bot.fake.payloads("chat.postMessage")) == 1


async def test_events_for_other_consumers_are_left_unhandled(bot: SlackBot) -> None:
    async with bot.database.transaction() as session:
        session.add(Event(kind="breaker.opened", payload={"key": "twilio"}))
    await guest_texts(bot, "Jorge Alvarez", "yes")
    await bot.said("Jorge Alvarez replied")

    async with bot.database.reading() as session:
        rows = await session.execute(select(Event.kind, Event.handled_at))
        kinds = {row.kind: row.handled_at for row in rows}
    assert kinds["guest.replied"] is not None
    assert kinds["breaker.opened"] is None  # the alerts' to read

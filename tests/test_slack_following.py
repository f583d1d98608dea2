"""Following a campaign in Slack: one progress message, edited in place as the workers
send, a final report with the delivery rate, and Retry failed that sends the failed
ones again. Two web processes never post twice; a 429 delays an edit, never loses it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from store.enums import CampaignState
from tests.dispatch_harness import Backend, midday_clock, wait_for_state
from tests.following_helpers import (
    CAMPAIGN_THREAD,
    WEDDING_CHANNEL,
    give_wedding_a_channel,
    guest_texts,
    phone_of,
    progress_posts,
    send_campaign,
)
from tests.slack_harness import CHANNEL, SlackBot, running_bot

# Slow enough (about four seconds for the demo's texts) for several progress edits.
PACE: dict[str, Any] = {"sms_messages_per_second": 10}


@pytest.fixture
async def bot(backend: Backend, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async with running_bot(
        backend.database, backend.url, tmp_path, midday_clock(), backend.redis_url, **PACE
    ) as running:
        yield running


def reports(bot: SlackBot, campaign_id: int) -> list[dict[str, Any]]:
    return [
        m
        for m in bot.fake.in_channel(CHANNEL) + bot.fake.in_channel(WEDDING_CHANNEL)
        if str(m.get("text", "")).startswith(f"Campaign {campaign_id} ")
    ]


def button(message: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    for block in message.get("blocks") or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return dict(element)
    return None


async def test_a_campaign_is_followed_in_its_thread_reported_and_its_failures_retried(
    bot: SlackBot,
) -> None:
    refused = [await phone_of(bot, "Jorge Alvarez"), await phone_of(bot, "Daniel Kim")]
    for number in refused:
        bot.fakes.twilio.refuse[number] = (400, 30007)  # carrier filtered: a failed delivery
    # Twilio answers 429 (each text waits for its next turn) until the progress message
    # is up, so the send is followed from its start, however slow this machine.
    bot.fakes.twilio.holding = True
    campaign_id = await send_campaign(bot)
    thread = f"{CAMPAIGN_THREAD[:-3]}{campaign_id:03d}"

    posted = await bot.wait_for(lambda: progress_posts(bot, campaign_id), what="progress")
    bot.fakes.twilio.holding = False
    await wait_for_state(bot.database, campaign_id, {CampaignState.COMPLETED})
    report = (await bot.wait_for(lambda: reports(bot, campaign_id), what="the report"))[0]

    # One progress message, in the campaign's thread, edited in place to the end.
    assert len(progress_posts(bot, campaign_id)) == 1
    assert posted[0]["channel"] == CHANNEL
    assert posted[0]["thread_ts"] == thread
    ts = next(m["ts"] for m in bot.fake.in_channel(CHANNEL) if "messages done" in m["text"])
    edits = [p for p in bot.fake.payloads("chat.update") if p["ts"] == ts]
    texts = [posted[0]["text"]] + [edit["text"] for edit in edits]
    assert len(edits) >= 1
    # Edited only when the figures changed: never the same text twice in a row.
    assert all(before != after for before, after in itertools.pairwise(texts))
    final = bot.fake.messages[(CHANNEL, ts)]["text"]
    total = final.split(" of ")[1].split()[0]
    assert f"[██████████] 100% — {total} of {total} messages done" in final
    assert final.startswith(f"Finished campaign {campaign_id} “Invitations”")
    assert "failed 2" in final

    # The report: in the same thread, with the rate in words and Retry failed.
    assert report["thread_ts"] == thread
    assert "delivery rate" in report["text"]
    assert "2 failed" in report["text"]
    assert f"/comms campaign retry {campaign_id}" in report["text"]
    retry = button(report, "campaign_retry_failed")
    assert retry is not None
    assert retry["text"]["text"] == "Retry failed"

    # A viewer may not retry; a planner may, and the failed ones go out again.
    await bot.click(
        "campaign_retry_failed", retry["value"], user="U_VIEWER", message_ts=report["ts"]
    )
    await bot.told("you need the", user="U_VIEWER")
    bot.fakes.twilio.refuse.clear()
    await bot.click(
        "campaign_retry_failed", retry["value"], user="U_PLANNER", message_ts=report["ts"]
    )
    await bot.said("pressed Retry failed, and 2 failed messages are being sent again")
    for number in refused:
        await bot.wait_for(partial(bot.fakes.twilio.sent_to, number), what=f"a text to {number}")
    second = await bot.wait_for(
        lambda: [r for r in reports(bot, campaign_id) if "has finished" in r["text"]],
        what="the second report",
    )
    assert "100% delivery rate" in second[0]["text"]
    assert button(second[0], "campaign_retry_failed") is None
    # Still one progress message, now showing nothing failed.
    assert len(progress_posts(bot, campaign_id)) == 1
    await bot.wait_for(lambda: "failed 0" in bot.fake.messages[(CHANNEL, ts)]["text"])


async def test_a_campaign_without_a_conversation_is_followed_in_the_weddings_channel(
    bot: SlackBot,
) -> None:
    await give_wedding_a_channel(bot)
    campaign_id = await send_campaign(bot, in_thread=False)
    await wait_for_state(bot.database, campaign_id, {CampaignState.COMPLETED})
    report = (await bot.wait_for(lambda: reports(bot, campaign_id), what="the report"))[0]
    posted = progress_posts(bot, campaign_id)
    assert len(posted) == 1
    assert posted[0]["channel"] == WEDDING_CHANNEL
    assert "thread_ts" not in posted[0] or not posted[0]["thread_ts"]
    progress_ts = next(
        m["ts"] for m in bot.fake.in_channel(WEDDING_CHANNEL) if "messages done" in m["text"]
    )
    # The report answers in the progress message's thread.
    assert report["thread_ts"] == progress_ts
    assert "100% delivery rate" in report["text"]
    assert button(report, "campaign_retry_failed") is None


async def test_two_web_processes_never_post_twice(bot: SlackBot) -> None:
    await give_wedding_a_channel(bot)
    async with bot.another_web_process() as second:
        first_campaign = await send_campaign(bot)
        second_campaign = await send_campaign(bot, in_thread=False)
        for http, name, body in (
            (bot.http, "Jorge Alvarez", "yes 2"),
            (second, "Jorge Alvarez", "is there parking?"),
            (second, "Grace Kim", "no"),
            (bot.http, "Henry Kim", "STOP"),
        ):
            await guest_texts(bot, name, body, http)
        for campaign_id in (first_campaign, second_campaign):
            await wait_for_state(bot.database, campaign_id, {CampaignState.COMPLETED})
            await bot.wait_for(partial(reports, bot, campaign_id), what="a report")
        await bot.said("parking")
        await bot.said("Grace Kim replied")
        await bot.said("1 guest opted out: Henry Kim")
    for campaign_id in (first_campaign, second_campaign):
        assert len(progress_posts(bot, campaign_id)) == 1
        assert len(reports(bot, campaign_id)) == 1
    notes = [p for p in bot.fake.payloads("chat.postMessage") if "replied by SMS" in str(p["text"])]
    assert sorted(p["text"].split(" replied")[0] for p in notes) == [
        "Grace Kim",
        "Jorge Alvarez",
        "Jorge Alvarez",
    ]
    roots = [p for p in notes if not p.get("thread_ts")]
    assert sorted(p["text"].split(" replied")[0] for p in roots) == ["Grace Kim", "Jorge Alvarez"]
    assert len([p for p in bot.fake.payloads("chat.postMessage") if "opted out:" in p["text"]]) == 1


async def test_a_429_from_slack_delays_an_edit_but_does_not_lose_it(bot: SlackBot) -> None:
    campaign_id = await send_campaign(bot)
    await bot.wait_for(lambda: progress_posts(bot, campaign_id), what="progress")
    # More 429s in a row than the client retries (three): the edit waits for a later pass.
    bot.fake.rate_limit_next(5, retry_after=1)
    await wait_for_state(bot.database, campaign_id, {CampaignState.COMPLETED})
    report = (await bot.wait_for(lambda: reports(bot, campaign_id), what="the report"))[0]
    assert bot.fake.throttled == 5
    assert "100% delivery rate" in report["text"]
    ts = next(m["ts"] for m in bot.fake.in_channel(CHANNEL) if "messages done" in m["text"])
    final = bot.fake.messages[(CHANNEL, ts)]["text"]
    assert final.startswith(f"Finished campaign {campaign_id}")
    assert "[██████████] 100%" in final
    assert len(progress_posts(bot, campaign_id)) == 1

"""``POST /slack/events``: forged requests run nothing, commands are acknowledged at once,
unknown input gets the closest command, roles are checked and named."""

from __future__ import annotations

import json
import sqlite3
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.dispatching import wire
from bot.web_app import build_web_app
from store.models import AuditEntry, Organisation, SlackEventReceipt
from tests.slack_harness import SIGNING_SECRET, SlackBot, sign
from tests.web_harness import ClientFactory, app_settings


def _command_body(text: str, user: str = "U_PLANNER") -> str:
    return urlencode(
        {
            "team_id": "T_TEST",
            "channel_id": "C1",
            "user_id": user,
            "command": "/comms",
            "text": text,
        }
    )


async def test_unconfigured_slack_answers_503_naming_what_is_missing(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    settings = app_settings(sqlite_database_url)
    dispatching = wire(settings)
    try:
        client = await aiohttp_client(build_web_app(settings, dispatching))
        answer = await client.post("/slack/events", data=b"x")
        assert answer.status == 503
        message = (await answer.json())["message"]
        assert "SLACK_SIGNING_SECRET" in message
        assert "SLACK_BOT_TOKEN" in message
    finally:
        dispatching.broker.close()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        sign(_command_body("help"), secret="not-the-secret"),
        sign(_command_body("help"), timestamp=int(time.time()) - 3600),
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"},
    ],
    ids=["unsigned", "wrong secret", "stale", "non-numeric timestamp", "bad signature"],
)
async def test_forged_requests_get_401_and_run_nothing(
    bot: SlackBot, headers: dict[str, str]
) -> None:
    answer = await bot.http.post(
        "/slack/events",
        data=_command_body("help").encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert answer.status == 401
    # A command that did run would have been answered by now, at the latest
    # with a help message; the fake saw nothing at all.
    good = await bot.command("help")
    assert good.status == 200
    await bot.said("Example:")  # the real one ran
    assert len(bot.fake.payloads("chat.postMessage")) == 1


async def test_changed_body_after_signing_is_refused(bot: SlackBot) -> None:
    body = _command_body("help")
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    answer = await bot.http.post(
        "/slack/events", data=body.replace("help", "stats").encode(), headers=headers
    )
    assert answer.status == 401
    assert SIGNING_SECRET  # the secret the good requests use


async def test_help_lists_every_group_with_examples(bot: SlackBot) -> None:
    answer = await bot.command("help", user="U_VIEWER")
    assert answer.status == 200
    message = await bot.said("Example:")
    assert "/comms help" in message["text"]
    assert all(block["type"] == "section" for block in message["blocks"])


async def test_unknown_input_gets_the_closest_command_privately(bot: SlackBot) -> None:
    await bot.command("hlep")
    told = await bot.told("I don't know `hlep`", user="U_PLANNER")
    assert "/comms help" in told


async def test_an_unclosed_quote_is_explained(bot: SlackBot) -> None:
    await bot.command('help "campaign')
    await bot.told("Close the quote")


async def test_a_stranger_is_told_how_to_become_a_member(bot: SlackBot) -> None:
    await bot.command("help", user="U_STRANGER")
    told = await bot.told("not a member", user="U_STRANGER")
    assert "/comms roles grant @you planner" in told


async def test_the_workspace_links_itself_to_the_only_organisation_once(
    bot: SlackBot,
) -> None:
    await bot.command("help")
    await bot.said("Example:")
    async with bot.database.reading() as session:
        team = await session.scalar(select(Organisation.slack_team_id))
        linked = await session.scalar(
            select(func.count()).where(AuditEntry.action == "organisation.slack_linked")
        )
    assert team == "T_TEST"
    assert linked == 1


async def test_a_retried_event_has_one_effect(bot: SlackBot) -> None:
    first = await bot.message("comms help", event_id="Ev_RETRIED")
    again = await bot.message("comms help", event_id="Ev_RETRIED", retry_num=1)
    assert (first.status, again.status) == (200, 200)
    await bot.said("Example:")
    async with bot.database.reading() as session:
        receipts = await session.scalar(select(func.count()).select_from(SlackEventReceipt))
    assert receipts == 1
    # Give a second answer every chance to appear before counting.
    await bot.command("help topicless")
    await bot.wait_for(lambda: len(bot.fake.payloads("chat.postMessage")) >= 2)
    assert len(bot.fake.payloads("chat.postMessage")) == 2


async def test_a_direct_message_is_a_command_without_any_prefix(bot: SlackBot) -> None:
    await bot.message("help", channel="D_PLANNER", channel_type="im")
    message = await bot.said("Example:")
    assert message["channel"] == "D_PLANNER"


async def test_the_web_api_client_waits_out_a_429(bot: SlackBot) -> None:
    bot.fake.rate_limit_next(1, retry_after=1)
    await bot.command("help")
    await bot.said("Example:")
    assert json.dumps(bot.fake.payloads("chat.postMessage"))


async def test_a_command_is_acknowledged_before_any_database_work(
    bot: SlackBot, sqlite_database_url: str
) -> None:
    """Another process holds SQLite's write lock: the ack still comes back at once, and
    the answer follows when the database is free again (the order, not the time)."""
    path = sqlite_database_url.split("///", 1)[1]
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        answer = await bot.command("help")
        assert answer.status == 200
        assert bot.fake.payloads("chat.postMessage") == []  # nothing was done yet
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await bot.said("Example:")

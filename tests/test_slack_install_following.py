"""Following campaigns and guests' replies in a multi-workspace install: each
organisation's messages go to its own workspace with the bot token its OAuth
install stored; an organisation whose workspace has not installed the app gets
nothing, and the notifier goes on for the others. An uninstall deletes the
workspace's installation."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select, update

from bot.slack.notifier import KINDS
from bot.slack.settings import SlackSettings
from bot.slack.workspace_clients import TOKEN_SECONDS, WorkspaceClients
from dispatch.approval import approve_campaign
from store.database import Database
from store.enums import CampaignState, Channel
from store.models import Event, Member, Organisation, Wedding, slack_bots, slack_installations
from tests.dispatch_harness import (
    APPROVER,
    Backend,
    draft_for_approval,
    make_guests,
    midday_clock,
    until,
    wait_for_state,
)
from tests.fakes.slack import BOT_TOKEN
from tests.fakes.twilio import AUTH_TOKEN
from tests.following_helpers import demo, guest_texts, progress_posts, send_campaign
from tests.install_helpers import install_workspace
from tests.slack_harness import SlackBot, running_bot
from tests.twilio_webhook_client import post_signed, text_from

# Slow enough (about two seconds a campaign) that progress is posted, then edited.
PACE: dict[str, Any] = {"sms_messages_per_second": 2}
NOT_INSTALLED = "T_NOT_INSTALLED"


@dataclass(frozen=True)
class Business:
    """A wedding business whose workspace installed the app."""

    organisation_id: int
    wedding_id: int
    planner: Member
    approver: Member
    channel: str
    sms_number: str
    token: str


@pytest.fixture
async def bot(backend: Backend, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async with running_bot(
        backend.database,
        backend.url,
        tmp_path,
        midday_clock(),
        backend.redis_url,
        oauth=True,
        **PACE,
    ) as running:
        yield running


async def _business(
    bot: SlackBot, team: tuple[str, str], channel: str, sms_number: str, code: str
) -> Business:
    """An organisation with four guests and a wedding channel, linked to the team by its
    operator, whose workspace then installs the app."""
    organisation_id, wedding_id, planner, approver = await make_guests(bot.database, 4)
    async with bot.database.transaction() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id == organisation_id)
            .values(slack_team_id=team[0], sms_number=sms_number)
        )
        await session.execute(
            update(Wedding).where(Wedding.id == wedding_id).values(slack_channel_id=channel)
        )
    token = await install_workspace(bot, code, team[0], team[1], f"U_{team[0]}")
    return Business(organisation_id, wedding_id, planner, approver, channel, sms_number, token)


async def _approved(bot: SlackBot, business: Business) -> int:
    campaign_id = await draft_for_approval(
        bot.database,
        business.organisation_id,
        business.wedding_id,
        business.planner,
        channels=(Channel.SMS,),
    )
    await approve_campaign(bot.control, campaign_id, business.approver, APPROVER)
    return campaign_id


def _report(bot: SlackBot, channel: str, campaign_id: int) -> dict[str, Any] | None:
    return next(
        (
            m
            for m in bot.fake.in_channel(channel)
            if str(m.get("text", "")).startswith(f"Campaign {campaign_id} ")
        ),
        None,
    )


async def test_each_workspace_follows_its_own_campaigns_with_its_own_token(
    bot: SlackBot,
) -> None:
    # The demo organisation's workspace never installed the app.
    unlinked = await demo(bot)
    async with bot.database.transaction() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id == unlinked.organisation_id)
            .values(slack_team_id=NOT_INSTALLED)
        )
        await session.execute(
            update(Wedding)
            .where(Wedding.id == unlinked.wedding_id)
            .values(slack_channel_id="C_NOT_INSTALLED")
        )
    blossom = await _business(
        bot, ("T_BLOSSOM", "Blossom Weddings"), "C_BLOSSOM", "+12015550111", "code-1"
    )
    maple = await _business(bot, ("T_MAPLE", "Maple Weddings"), "C_MAPLE", "+12015550122", "code-2")
    assert blossom.token != maple.token

    unfollowed = await send_campaign(bot, in_thread=False)
    await guest_texts(bot, "Jorge Alvarez", "is there parking?")
    # Twilio answers 429 until both progress messages are up: followed from the start.
    bot.fakes.twilio.holding = True
    followed = {business.channel: await _approved(bot, business) for business in (blossom, maple)}
    for channel, campaign_id in followed.items():
        await bot.wait_for(partial(progress_posts, bot, campaign_id), what=f"progress in {channel}")
    bot.fakes.twilio.holding = False
    fields = text_from("+12012000000", "is there parking?", To=blossom.sms_number)
    answer = await post_signed(
        bot.http,
        "/twilio/sms",
        fields,
        token=AUTH_TOKEN,
        signed_url=f"{bot.settings.dispatch.public_base_url}/twilio/sms",
    )
    assert answer.status == 200, await answer.text()

    for channel, campaign_id in followed.items():
        await wait_for_state(bot.database, campaign_id, {CampaignState.COMPLETED})
        report = await bot.wait_for(
            partial(_report, bot, channel, campaign_id), what=f"the report in {channel}"
        )
        assert "100% delivery rate" in report["text"]
    await bot.said("Guest 0 replied by SMS", channel="C_BLOSSOM")
    await wait_for_state(bot.database, unfollowed, {CampaignState.COMPLETED})
    await until(partial(_every_event_handled, bot.database), what="every event handled")

    for business in (blossom, maple):
        calls = [c for c in bot.fake.called if c.payload.get("channel") == business.channel]
        campaign_id = followed[business.channel]
        progress = [
            c
            for c in calls
            if c.method == "chat.postMessage" and "messages done" in str(c.payload["text"])
        ]
        assert len(progress) == 1
        assert f"campaign {campaign_id} “Invitations”" in progress[0].payload["text"]
        edits = [c for c in calls if c.method == "chat.update"]
        assert edits  # posted, then edited in place
        # Every message and edit in this workspace carried this workspace's token.
        assert {c.token for c in calls} == {business.token}
    replies = [c for c in bot.fake.called if "replied by SMS" in str(c.payload.get("text"))]
    assert [(c.payload["channel"], c.token) for c in replies] == [("C_BLOSSOM", blossom.token)]
    # Nothing for the workspace without an installation, and no call with another token.
    assert bot.fake.in_channel("C_NOT_INSTALLED") == []
    assert not [c for c in bot.fake.called if c.token == BOT_TOKEN]


async def _every_event_handled(database: Database) -> bool:
    async with database.reading() as session:
        left = await session.scalar(
            select(func.count()).where(Event.kind.in_(KINDS), Event.handled_at.is_(None))
        )
    return left == 0


async def test_an_uninstall_deletes_the_workspaces_installation(
    sqlite_database: Database, sqlite_database_url: str, tmp_path: Path
) -> None:
    async with running_bot(
        sqlite_database, sqlite_database_url, tmp_path, midday_clock(), oauth=True
    ) as bot:
        await install_workspace(bot, "code-1", "T_BLOSSOM", "Blossom Weddings", "U_FOUNDER")
        envelope = {
            "type": "event_callback",
            "team_id": "T_BLOSSOM",
            "api_app_id": "A_TEST",
            "event_id": "Ev_UNINSTALLED",
            "event_time": int(time.time()),
            "event": {"type": "app_uninstalled"},
        }
        answer = await bot.post(json.dumps(envelope), "application/json")
        assert answer.status == 200

        await until(partial(_nothing_installed, bot.database), what="the installation deleted")


async def _nothing_installed(database: Database) -> bool:
    async with database.reading() as session:
        bots = await session.scalar(select(func.count()).select_from(slack_bots))
        installs = await session.scalar(select(func.count()).select_from(slack_installations))
    return bots == installs == 0


async def test_tokens_are_remembered_briefly_and_clients_share_one_session() -> None:
    tokens = {1: "xoxb-one"}
    looked: list[int] = []
    now = [0.0]

    async def find(organisation_id: int) -> str | None:
        looked.append(organisation_id)
        return tokens.get(organisation_id)

    async with ClientSession() as session:
        clients = WorkspaceClients(SlackSettings(), session, find, lambda: now[0])
        first = await clients.for_organisation(1)
        assert first is not None
        assert (first.token, first.session) == ("xoxb-one", session)
        assert await clients.for_organisation(1) is first
        assert await clients.for_organisation(2) is None
        assert looked == [1, 2]
        del tokens[1]  # the workspace removed the app
        now[0] += TOKEN_SECONDS - 1
        assert await clients.for_organisation(1) is first
        now[0] += 2
        assert await clients.for_organisation(1) is None
        tokens[1] = "xoxb-again"  # and installed it again
        now[0] += TOKEN_SECONDS + 1
        again = await clients.for_organisation(1)
        assert again is not None
        assert (again.token, again.session) == ("xoxb-again", session)

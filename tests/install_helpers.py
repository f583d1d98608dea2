"""Installing the app in a workspace as Slack and the installer's browser do: Bolt's
OAuth flow (``/slack/install`` → Slack's consent → ``/slack/oauth_redirect``)
against the Slack fake."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from store.models import slack_bots
from tests.fakes.slack import CLIENT_ID
from tests.slack_harness import SlackBot

STATE_COOKIE = "slack-app-oauth-state"


async def begin_install(bot: SlackBot) -> tuple[str, str]:
    """The state Slack will send back, and the cookie the installer's browser holds."""
    answer = await bot.http.get("/slack/install", allow_redirects=False)
    assert answer.status == 302
    location = urlsplit(answer.headers["Location"])
    assert (location.scheme, location.hostname) == ("https", "slack.com")
    query = parse_qs(location.query)
    assert query["client_id"] == [CLIENT_ID]
    assert "commands" in query["scope"][0]
    state = query["state"][0]
    cookie = answer.cookies[STATE_COOKIE].value
    return state, cookie


async def install_workspace(
    bot: SlackBot, code: str, team_id: str, team_name: str, installer: str
) -> str:
    """The workspace installs the app through the OAuth flow; returns its bot token."""
    bot.fake.add_install_code(code, team_id, team_name, installer)
    state, cookie = await begin_install(bot)
    answer = await bot.http.get(
        "/slack/oauth_redirect",
        params={"code": code, "state": state},
        headers={"Cookie": f"{STATE_COOKIE}={cookie}"},
    )
    assert answer.status == 200, await answer.text()
    async with bot.database.reading() as session:
        token = await session.scalar(
            select(slack_bots.c.bot_token).where(slack_bots.c.team_id == team_id)
        )
    assert token in bot.fake.team_tokens
    return str(token)

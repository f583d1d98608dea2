"""URLs that arrive in Slack payloads are fetched only at Slack: a forged response_url or
file download URL pointing at 127.0.0.1 or 169.254.169.254 is refused, saying why, and
nothing is sent there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from store.database import Database
from tests.dispatch_harness import midday_clock
from tests.fakes.server import BackgroundServer
from tests.slack_harness import SlackBot, running_bot

ELSEWHERE = "C_NOT_A_MEMBER"  # a channel the bot was never added to
REFUSED = "did not answer through a forged response_url"
METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


class Listener:
    """A server on 127.0.0.1 that would receive whatever a forged URL made us send."""

    def __init__(self) -> None:
        self.hits: list[str] = []

    def app(self) -> web.Application:
        async def anything(request: web.Request) -> web.Response:
            self.hits.append(f"{request.method} {request.path_qs}")
            return web.Response(text="name,email\nEve,eve@example.com\n")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", anything)
        return app


@pytest.fixture
def listener() -> Iterator[tuple[Listener, str]]:
    found = Listener()
    with BackgroundServer(found.app()) as server:
        yield found, server.url


@pytest.fixture
async def bot(
    sqlite_database: Database, sqlite_database_url: str, tmp_path: Path
) -> AsyncIterator[SlackBot]:
    async with running_bot(sqlite_database, sqlite_database_url, tmp_path, midday_clock()) as b:
        b.fake.not_in_channels.add(ELSEWHERE)
        yield b


async def test_an_answer_where_the_bot_is_not_goes_through_slacks_response_url(
    bot: SlackBot,
) -> None:
    await bot.command("campaign show 99", channel=ELSEWHERE)
    await bot.wait_for(lambda: bot.fake.responses, what="an answer at the response_url")
    assert bot.fake.responses == [
        {
            "text": "There is no campaign 99. `/comms campaign list` shows them.",
            "response_type": "ephemeral",
        }
    ]


@pytest.mark.parametrize("where", ["listener", "metadata"])
async def test_a_forged_response_url_is_refused_and_nothing_is_sent(
    bot: SlackBot, listener: tuple[Listener, str], where: str
) -> None:
    found, listener_url = listener
    forged = f"{listener_url}/steal" if where == "listener" else METADATA
    with capture_logs() as logs:
        await bot.command("campaign show 99", channel=ELSEWHERE, response_url=forged)
        refused = await bot.wait_for(
            lambda: [e for e in logs if e["event"] == REFUSED],
            what="the refusal in the log",
        )
    origin = listener_url if where == "listener" else "http://169.254.169.254"
    assert refused[0]["reason"] == (
        f"the command's response_url points at {origin}, not at Slack "
        f"({_origin(bot.fake_url)} "
        "or https://hooks.slack.com)"
    )
    assert found.hits == []
    assert bot.fake.responses == []


@pytest.mark.parametrize("where", ["listener", "metadata"])
async def test_a_forged_file_url_is_refused_and_nothing_is_fetched(
    bot: SlackBot, listener: tuple[Listener, str], where: str
) -> None:
    found, listener_url = listener
    forged = f"{listener_url}/files-pri/F1/guests.csv" if where == "listener" else METADATA
    shared = bot.fake.share_file(
        "F_FORGED", "guests.csv", b"name,email\n", bot.fake_url, download_url=forged
    )
    await bot.message("comms guests import", files=[shared], thread_ts="1700000000.000001")
    told = await bot.told("I did not download guests.csv")
    origin = listener_url if where == "listener" else "http://169.254.169.254"
    assert f"points at {origin}, not at Slack" in told
    assert "https://files.slack.com" in told
    assert found.hits == []


def _origin(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"

"""Driving the Slack bot as Slack does: signed requests into ``POST /slack/events``,
the bot's Web API calls landing in the Slack fake, workers on a real broker.

``running_bot`` starts everything around the demo organisation (members
U_OWNER, U_PLANNER, U_APPROVER, U_VIEWER); a test then types commands, answers
in threads and clicks buttons, and waits for what the fake recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

from bot.dispatching import Dispatching
from bot.settings import Settings
from bot.slack.settings import SlackSettings
from bot.web_app import build_web_app
from dispatch.runtime import Runtime
from store.audit import Actor
from store.database import Database
from store.demo import load_demo_data
from tests.dispatch_harness import Fakes, running_dispatch, running_fakes, settings_for
from tests.fakes.server import BackgroundServer
from tests.fakes.slack import BOT_TOKEN, CLIENT_ID, CLIENT_SECRET, TEAM_ID, SlackFake

SIGNING_SECRET = "slack-test-signing-secret"
CHANNEL = "C_PLANNING"
T = TypeVar("T")


def sign(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's signature headers for ``body`` (v0 HMAC-SHA256 of ``v0:ts:body``)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def with_slack(
    settings: Settings, api_url: str, *, oauth: bool = False, progress_every: float = 0.2
) -> Settings:
    """A single-workspace install (the bot token), or with ``oauth`` a multi-workspace
    one (client id and secret; tokens come from installations)."""
    credentials: dict[str, Any] = (
        {"slack_client_id": CLIENT_ID, "slack_client_secret": CLIENT_SECRET}
        if oauth
        else {"slack_bot_token": BOT_TOKEN}
    )
    return dataclasses.replace(
        settings,
        slack=SlackSettings(
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=api_url,
            slack_progress_every_seconds=progress_every,
            **credentials,
        ),
    )


def without_slack(settings: Settings) -> Settings:
    """``settings`` as a process that has not been given Slack's settings yet."""
    # Given as None so that a SLACK_* variable in the test's environment cannot fill them.
    unset = dict.fromkeys(("slack_signing_secret", "slack_bot_token", "slack_client_id"))
    return dataclasses.replace(settings, slack=SlackSettings(**unset))


@dataclass
class SlackBot:
    """The running bot and the Slack around it."""

    http: TestClient[Any, Any]
    fake: SlackFake
    fake_url: str  # the fake's origin, for files' download URLs
    database: Database
    settings: Settings
    fakes: Fakes
    dispatching: Dispatching
    clock: Callable[[], datetime]
    control: Runtime  # the test's own dispatch calls (approve_campaign…), on its loop
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @asynccontextmanager
    async def another_web_process(self) -> AsyncIterator[TestClient[Any, Any]]:
        """A second web app on the same database and broker, as a second `serve` is:
        its own Bolt app and its own Slack notifier."""
        app = build_web_app(self.settings, self.dispatching, self.clock)
        async with TestClient(TestServer(app)) as http:
            yield http

    async def command(
        self,
        text: str,
        *,
        user: str = "U_PLANNER",
        channel: str = CHANNEL,
        team: str = TEAM_ID,
        response_url: str | None = None,
    ) -> ClientResponse:
        """``/comms <text>`` as Slack posts it (``response_url``: a forged one)."""
        body = urlencode(
            {
                "token": "unused",
                "team_id": team,
                "channel_id": channel,
                "user_id": user,
                "command": "/comms",
                "text": text,
                "trigger_id": f"trigger.{next(self._ids)}",
                "response_url": response_url or f"{self.fake_url}/commands/response",
            }
        )
        return await self.post(body, "application/x-www-form-urlencoded")

    async def message(
        self,
        text: str,
        *,
        user: str = "U_PLANNER",
        channel: str = CHANNEL,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
        event_id: str | None = None,
        retry_num: int | None = None,
        channel_type: str = "channel",
    ) -> ClientResponse:
        """A person's message (in a thread when ``thread_ts``) as an Events API callback."""
        event: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "channel": channel,
            "channel_type": channel_type,
            "ts": f"1800000000.{next(self._ids):06d}",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        if files:
            event["subtype"] = "file_share"
            event["files"] = files
        envelope = {
            "type": "event_callback",
            "team_id": TEAM_ID,
            "api_app_id": "A_TEST",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "event": event,
        }
        headers = {"X-Slack-Retry-Num": str(retry_num)} if retry_num else {}
        return await self.post(json.dumps(envelope), "application/json", headers)

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U_APPROVER",
        channel: str = CHANNEL,
        message_ts: str = "",
        thread_ts: str | None = None,
    ) -> ClientResponse:
        """A button press (block_actions), as Slack posts it."""
        message: dict[str, Any] = {"ts": message_ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": user},
            "api_app_id": "A_TEST",
            "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": message_ts},
            "message": message,
            "trigger_id": f"trigger.{next(self._ids)}",
            "actions": [{"type": "button", "action_id": action_id, "value": value}],
        }
        return await self.post(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )

    async def submit_view(
        self,
        callback_id: str,
        values: dict[str, Any],
        *,
        user: str = "U_PLANNER",
        private_metadata: str = "",
    ) -> ClientResponse:
        """A modal's Submit (view_submission); ``values`` as Slack nests them."""
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": user},
            "api_app_id": "A_TEST",
            "trigger_id": f"trigger.{next(self._ids)}",
            "view": {
                "id": "V_TEST",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": values},
            },
        }
        return await self.post(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        return await self.http.post(
            "/slack/events",
            data=body.encode(),
            headers={"Content-Type": content_type, **sign(body), **(headers or {})},
        )

    async def wait_for(
        self, found: Callable[[], T | None], within: float = 15.0, what: str = "it"
    ) -> T:
        """Poll until ``found()`` returns something (the bot works after its ack)."""
        deadline = time.monotonic() + within
        while True:
            value = found()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"waited {within:g} s for {what}; Slack saw: "
                    f"{self.fake.texts()} / {self.fake.ephemerals()}"
                )
            await asyncio.sleep(0.02)

    async def said(
        self, fragment: str, *, channel: str | None = None, within: float = 15.0
    ) -> dict[str, Any]:
        """The first message (as it reads now) whose text contains ``fragment``."""

        def find() -> dict[str, Any] | None:
            for (ch, _ts), message in sorted(self.fake.messages.items(), key=lambda i: i[0][1]):
                if (channel is None or ch == channel) and fragment in str(message.get("text")):
                    return {"channel": ch, **message}
            return None

        return await self.wait_for(find, within, f"a message containing {fragment!r}")

    async def told(self, fragment: str, *, user: str | None = None, within: float = 15.0) -> str:
        """The first private reply containing ``fragment``."""

        def find() -> str | None:
            return next((t for t in self.fake.ephemerals(user) if fragment in t), None)

        return await self.wait_for(find, within, f"a private reply containing {fragment!r}")


@asynccontextmanager
async def running_bot(
    database: Database,
    database_url: str,
    tmp_path: Path,
    clock: Callable[[], datetime],
    redis_url: str | None = None,
    progress_every: float = 0.2,
    *,
    oauth: bool = False,
    slack_in_first_process: bool = True,
    **dispatch: Any,
) -> AsyncIterator[SlackBot]:
    """The demo organisation, the fakes (Slack, Twilio, SMTP), workers and the web app.

    ``slack_in_first_process=False``: the web app was started before Slack was set up
    (``/slack/*`` answers 503 and it has no notifier); it still takes guests' texts,
    and only ``another_web_process()`` tells Slack about them.
    """
    async with database.transaction() as session:
        await load_demo_data(session, Actor("test"))
    fake = SlackFake()
    with running_fakes() as fakes, BackgroundServer(fake.app()) as slack_server:
        settings = with_slack(
            settings_for(database_url, fakes, tmp_path, redis_url, **dispatch),
            f"{slack_server.url}/api/",
            oauth=oauth,
            progress_every=progress_every,
        )
        async with running_dispatch(settings, clock) as running:
            first = settings if slack_in_first_process else without_slack(settings)
            app = build_web_app(first, running.dispatching, clock)
            async with TestClient(TestServer(app)) as http:
                yield SlackBot(
                    http,
                    fake,
                    slack_server.url,
                    database,
                    settings,
                    fakes,
                    running.dispatching,
                    clock,
                    running.control,
                )

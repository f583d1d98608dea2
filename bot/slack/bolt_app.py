"""The Bolt app: request verification, the Web API client, and the listeners that
turn ``/comms``, mentions, direct messages and thread answers into requests.

Every listener acknowledges first and works after: Bolt (with
``process_before_response`` off) answers Slack as soon as ``ack()`` runs and
lets the listener go on, so a slow database never costs the 3-second limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import ClientSession
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.installation import oauth_settings
from bot.slack.requests import Place
from bot.slack.router import BotWiring
from bot.slack.services import BotServices
from bot.slack.settings import SlackSettings

# An area of the bot adds its commands, buttons and thread flows.
Area = Callable[[AsyncApp, BotWiring], None]

_MENTION = re.compile(r"^\s*<@[A-Z0-9]+>\s*")
# In a channel, plain text is a command when it starts like one.
_TYPED_COMMAND = re.compile(r"^\s*/?comms\b\s*", re.IGNORECASE)


def web_client(
    settings: SlackSettings, token: str | None = None, session: ClientSession | None = None
) -> AsyncWebClient:
    """slack_sdk's client, retrying 429s after Retry-After and dropped connections."""
    return AsyncWebClient(
        token=token,
        session=session,
        base_url=settings.slack_api_url or AsyncWebClient.BASE_URL,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_bolt_app(services: BotServices, areas: list[Area]) -> AsyncApp:
    settings = services.settings.slack
    signing_secret = settings.slack_signing_secret
    token = settings.slack_bot_token
    if settings.oauth_enabled:
        # Each workspace's own token comes from the installation store, per request.
        app = AsyncApp(
            signing_secret=signing_secret.get_secret_value() if signing_secret else None,
            client=web_client(settings),
            oauth_settings=oauth_settings(services),
            process_before_response=False,
            raise_error_for_unhandled_request=False,
        )
        # An uninstalled workspace's installation is deleted (Bolt's own listeners for
        # app_uninstalled and tokens_revoked), so nothing goes on posting with its token.
        app.enable_token_revocation_listeners()
    else:
        app = AsyncApp(
            signing_secret=signing_secret.get_secret_value() if signing_secret else None,
            # Bolt takes the single workspace's token from the client it is given.
            client=web_client(settings, token.get_secret_value() if token else None),
            process_before_response=False,
            # An unknown payload (a retired button) is answered, not logged as an error.
            raise_error_for_unhandled_request=False,
        )
    wiring = BotWiring(services)
    for register in areas:
        register(app, wiring)
    _listen(app, wiring)
    return app


def _listen(app: AsyncApp, wiring: BotWiring) -> None:
    async def slash_command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        place = Place(
            channel_id=body["channel_id"],
            user_id=body["user_id"],
            team_id=body["team_id"],
            trigger_id=body.get("trigger_id"),
            response_url=body.get("response_url"),
        )
        await wiring.run_command(client, place, body.get("text", ""))

    async def message(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        # Events are acknowledged by Bolt itself before this runs.
        if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
            return  # our own messages, edits, joins
        if not await wiring.first_time(body.get("event_id")):
            return
        place = _place_of(body, event)
        text = str(event.get("text") or "")
        files = list(event.get("files") or [])
        if place.thread_ts and await wiring.answer_thread(client, place, text, files):
            return
        typed = _TYPED_COMMAND.match(text)
        if typed or event.get("channel_type") == "im":
            command = text[typed.end() :] if typed else text
            await wiring.run_command(client, place, command, files)

    async def mention(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        if not await wiring.first_time(body.get("event_id")):
            return
        place = _place_of(body, event)
        text = _MENTION.sub("", str(event.get("text") or ""))
        await wiring.run_command(client, place, _TYPED_COMMAND.sub("", text))

    app.command("/comms")(slash_command)
    app.event("message")(message)
    app.event("app_mention")(mention)


def _place_of(body: dict[str, Any], event: dict[str, Any]) -> Place:
    return Place(
        channel_id=event["channel"],
        user_id=event.get("user", ""),
        team_id=body.get("team_id") or event.get("team", ""),
        thread_ts=event.get("thread_ts"),
    )

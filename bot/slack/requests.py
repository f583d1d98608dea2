"""One person's request to the bot, and how the bot answers it.

A request reaches a handler after the Slack request was acknowledged: from a
slash command, a plain-text message, a button or a thread answer alike. The
answer goes where the person asked (the thread, when there is one), and an
error goes to that person only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack import outbound_urls
from bot.slack.access import Caller
from bot.slack.errors import UsageError
from bot.slack.services import BotServices


@dataclass
class Place:
    """Where a request came from and where its answers go."""

    channel_id: str
    user_id: str
    team_id: str
    thread_ts: str | None = None
    trigger_id: str | None = None  # lets a handler open a modal (views.open)
    # A slash command's (or button's) response_url: answers someone in a channel the
    # bot is not in, where chat.postEphemeral cannot reach them.
    response_url: str | None = None


@dataclass
class CommandRequest:
    services: BotServices
    client: AsyncWebClient
    caller: Caller
    place: Place
    arguments: list[str]
    text: str  # everything after the command's words, as typed
    files: list[dict[str, Any]] = field(default_factory=list)

    async def say(
        self,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> str:
        """Post in the request's channel (its thread, if any); returns the message ts."""
        return await post(
            self.client,
            self.place.channel_id,
            text,
            blocks,
            thread_ts=thread_ts or self.place.thread_ts,
        )

    async def tell(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Only the person who asked sees this (errors, refusals, the audit log)."""
        await tell(self.client, self.place, text, blocks)


async def post(
    client: AsyncWebClient,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    *,
    thread_ts: str | None = None,
) -> str:
    # `text` is what screen readers and notifications read: always the whole
    # message in words, never only "see below".
    answer = await client.chat_postMessage(
        channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False
    )
    return str(answer["ts"])


# chat.postEphemeral's answers when the bot cannot post where the person typed.
NOT_THERE = frozenset({"channel_not_found", "not_in_channel", "user_not_in_channel"})


async def tell(
    client: AsyncWebClient, place: Place, text: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    try:
        await client.chat_postEphemeral(
            channel=place.channel_id,
            user=place.user_id,
            text=text,
            blocks=blocks,
            thread_ts=place.thread_ts,
        )
    except SlackApiError as error:
        if place.response_url is None or error.response.get("error") not in NOT_THERE:
            raise
        await respond(client, place.response_url, text, blocks)


async def respond(
    client: AsyncWebClient,
    response_url: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    """Answer through a response_url, only ever at Slack (bot/slack/outbound_urls.py):
    the URL comes in the request, so a forged one must not make us call anywhere else.
    The Web API client's own base URL (SLACK_API_URL) is Slack's stand-in in tests."""
    origins = outbound_urls.allowed(outbound_urls.RESPONSE_HOST, client.base_url)
    outbound_urls.checked(response_url, origins, "the command's response_url")
    webhook = AsyncWebhookClient(response_url, timeout=10, session=client.session)
    answer = await webhook.send(text=text, blocks=blocks, response_type="ephemeral")
    if answer.status_code != 200:
        message = f"response_url answered {answer.status_code}"
        raise SlackApiError(message, {"error": answer.body})  # type: ignore[no-untyped-call]


def place_of_click(body: dict[str, Any]) -> Place:
    """Where a button was pressed (block_actions): the answer goes to its thread."""
    message = body.get("message") or {}
    return Place(
        channel_id=(body.get("channel") or {}).get("id", ""),
        user_id=body["user"]["id"],
        team_id=(body.get("team") or {}).get("id", ""),
        thread_ts=message.get("thread_ts"),
        trigger_id=body.get("trigger_id"),
        response_url=body.get("response_url"),
    )


def place_of_form(body: dict[str, Any]) -> Place:
    """Where a modal was opened from: its private metadata names the channel (and thread)."""
    metadata = json.loads(body["view"].get("private_metadata") or "{}")
    return Place(
        channel_id=str(metadata.get("channel", "")),
        user_id=body["user"]["id"],
        team_id=(body.get("team") or {}).get("id", ""),
    )


def form_metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = json.loads(body["view"].get("private_metadata") or "{}")
    return metadata


def clicked_value(body: dict[str, Any]) -> str:
    return str(body["actions"][0].get("value", ""))


def clicked_number(body: dict[str, Any], what: str, typed: str) -> int:
    """The number a button carries (a campaign, an alert); ``typed`` is its typed twin."""
    value = clicked_value(body)
    if not value.isdigit():
        raise UsageError(f"That button does not name {what}; use `{typed}`.")
    return int(value)

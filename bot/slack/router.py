"""From what a person typed to the handler that does it, after the ack.

Everything here runs once Slack has its answer: the caller is looked up,
their role checked, the handler run, and any refusal told to them alone.
"""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import IntegrityError

from bot.slack.access import Caller, resolve_caller
from bot.slack.command_table import Command, CommandTable
from bot.slack.errors import SlackBotError, UsageError
from bot.slack.outbound_urls import UrlRefused
from bot.slack.requests import CommandRequest, Place, tell
from bot.slack.services import BotServices
from dispatch.errors import DispatchError
from store.errors import StoreError
from store.models import SlackEventReceipt

log = structlog.get_logger(__name__)

# A thread answer: True when this handler owned the thread and answered.
ThreadHandler = Callable[
    ["BotWiring", AsyncWebClient, Place, str, list[dict[str, Any]]], Awaitable[bool]
]


@dataclass
class BotWiring:
    """What every area registers into and reads from."""

    services: BotServices
    table: CommandTable = field(default_factory=CommandTable)
    thread_handlers: list[ThreadHandler] = field(default_factory=list)

    async def caller(self, place: Place) -> Caller:
        async with self.services.database.transaction() as session:
            return await resolve_caller(session, place.team_id, place.user_id)

    async def run_command(
        self,
        client: AsyncWebClient,
        place: Place,
        text: str,
        files: list[dict[str, Any]] | None = None,
    ) -> None:
        """Run what a person typed after ``/comms``; every failure becomes a reply."""
        async with answering(client, place):
            words = split_words(text)
            found = self.table.match(words) if words else self.table.match(["help"])
            if found is None:
                raise UsageError(unknown_command(words, self.table.closest(words)))
            command, arguments = found
            caller = await self.caller(place)
            caller.require(command.allowed, command.doing)
            rest = text.split(None, len(command.words))[len(command.words) :] if words else []
            request = CommandRequest(
                services=self.services,
                client=client,
                caller=caller,
                place=place,
                arguments=arguments,
                text=rest[0] if rest else "",
                files=files or [],
            )
            await command.run(request)

    async def answer_thread(
        self, client: AsyncWebClient, place: Place, text: str, files: list[dict[str, Any]]
    ) -> bool:
        """Offer a thread message to each flow that may own the thread."""
        async with answering(client, place):
            for handler in self.thread_handlers:
                if await handler(self, client, place, text, files):
                    return True
        return False

    async def first_time(self, event_id: str | None) -> bool:
        """False for an event Slack re-sent (X-Slack-Retry-Num) that we already handled."""
        if not event_id:
            return True
        try:
            async with self.services.database.transaction() as session:
                session.add(SlackEventReceipt(event_id=event_id))
        except IntegrityError:
            return False
        return True


def split_words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as error:  # an unclosed quote
        raise UsageError(
            f"I could not read that: {error}. Close the quote and try again."
        ) from None


def unknown_command(words: list[str], closest: list[Command]) -> str:
    typed = " ".join(words[:3])
    if not closest:
        return f"I don't know `{typed}`. Type `/comms help` to see everything I can do."
    suggestions = "\n".join(f"• `{command.usage}` — {command.summary}" for command in closest)
    return f"I don't know `{typed}`. Did you mean:\n{suggestions}"


@asynccontextmanager
async def answering(client: AsyncWebClient, place: Place) -> AsyncIterator[None]:
    """Turns the bot's typed errors into a private reply, and anything else into a
    short apology (the details go to the log) — never a stack trace."""
    try:
        yield
    except (SlackBotError, StoreError, DispatchError) as error:
        text = str(error)
        await _tell_quietly(client, place, text[:1].upper() + text[1:] or "That did not work.")
    except Exception:
        log.exception("slack request failed", channel=place.channel_id, user=place.user_id)
        await _tell_quietly(
            client,
            place,
            "Something went wrong on our side. Please try again; if it keeps failing, "
            "tell your guestcomms operator (the details are in the server's log).",
        )


async def _tell_quietly(client: AsyncWebClient, place: Place, text: str) -> None:
    try:
        await tell(client, place, text)
    except SlackApiError:
        log.warning("could not tell the person about a failed request", text=text)
    except UrlRefused as refused:
        log.warning("did not answer through a forged response_url", reason=str(refused))

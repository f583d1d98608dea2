"""From what a person typed, pressed or submitted to the handler that does it, after the ack.

Everything here runs once Slack has its answer: the caller is looked up,
their role checked against the action the command, button or form declares
(store/permissions.py, the one table), the handler run, and any refusal told
to them alone. Areas register buttons and forms through ``BotWiring.button``
and ``BotWiring.form``, so none can forget the check.
"""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import IntegrityError

from bot.slack.access import Caller, resolve_caller
from bot.slack.command_table import Command, CommandTable
from bot.slack.errors import SlackBotError, UsageError
from bot.slack.outbound_urls import UrlRefused
from bot.slack.requests import CommandRequest, Place, place_of_click, place_of_form, tell
from bot.slack.services import BotServices
from dispatch.errors import DispatchError
from store.errors import StoreError
from store.models import SlackEventReceipt
from store.permissions import Action

log = structlog.get_logger(__name__)

# A thread answer: True when this handler owned the thread and answered.
ThreadHandler = Callable[
    ["BotWiring", AsyncWebClient, Place, str, list[dict[str, Any]]], Awaitable[bool]
]
# The work of a button or a form, once its caller may do what it declares.
Interaction = Callable[[CommandRequest, dict[str, Any]], Awaitable[None]]
# A form's fields that cannot be used, by block id; empty when it may be submitted.
FormCheck = Callable[[dict[str, Any]], dict[str, str]]


@dataclass
class BotWiring:
    """What every area registers into and reads from."""

    services: BotServices
    table: CommandTable = field(default_factory=CommandTable)
    thread_handlers: list[ThreadHandler] = field(default_factory=list)
    # Every button's action_id and form's callback_id, with the action it needs.
    buttons: dict[str, Action] = field(default_factory=dict)
    forms: dict[str, Action] = field(default_factory=dict)

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
            caller.require(command.action)
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

    def button(self, bolt: AsyncApp, action_id: str, needs: Action, work: Interaction) -> None:
        """Run ``work`` when the button is pressed by someone allowed to do ``needs``."""
        if action_id in self.buttons:
            raise ValueError(f"the button {action_id} is registered twice")
        self.buttons[action_id] = needs

        async def pressed(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            place = place_of_click(body)
            async with answering(client, place):
                caller = await self.caller(place)
                caller.require(needs)
                await work(CommandRequest(self.services, client, caller, place, [], ""), body)

        bolt.action(action_id)(pressed)

    def form(
        self, bolt: AsyncApp, callback_id: str, needs: Action, check: FormCheck, work: Interaction
    ) -> None:
        """Run ``work`` when the modal is submitted by someone allowed to do ``needs``.

        ``check`` runs before the ack: fields that cannot be used are shown on
        the form itself and nothing else happens.
        """
        if callback_id in self.forms:
            raise ValueError(f"the form {callback_id} is registered twice")
        self.forms[callback_id] = needs

        async def submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            errors = check(body)
            if errors:
                await ack(response_action="errors", errors=errors)
                return
            await ack()
            place = place_of_form(body)
            async with answering(client, place):
                caller = await self.caller(place)
                caller.require(needs)
                await work(CommandRequest(self.services, client, caller, place, [], ""), body)

        bolt.view(callback_id)(submitted)

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

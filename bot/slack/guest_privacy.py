"""``guests export-person`` and ``guests erase-person``: a guest's data request from Slack.

Owners and admins only. The export goes to the asker alone, as a JSON file in
their direct message with the bot; the erasure asks first — privately, with
a button behind Slack's own "are you sure" — and then tells the channel that
a person's data was erased, without saying whose.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.access import Caller
from bot.slack.command_table import Command
from bot.slack.errors import InvalidValue, UsageError
from bot.slack.requests import CommandRequest, clicked_value, post
from bot.slack.router import BotWiring
from bot.slack.services import BotServices
from bot.slack.slack_files import upload_text
from store.addresses import AddressError
from store.permissions import Action
from store.privacy.person_export import summary, to_json
from store.privacy.requests import erase_request, erasure_preview, export_request

ERASE_ACTION = "person_erase"
EXPORT_USAGE = "Usage: `/comms guests export-person <email or phone>`."
ERASE_USAGE = "Usage: `/comms guests erase-person <email or phone>`."


def register(bolt: AsyncApp, wiring: BotWiring) -> None:
    services = wiring.services
    wiring.table.add(
        Command(
            ("guests", "export-person"),
            "<email or phone>",
            "everything held about one person, as a JSON file sent to you (a data request)",
            "/comms guests export-person ann@example.com",
            "Guests",
            Action.EXPORT_PERSON,
            export_person,
        )
    )
    wiring.table.add(
        Command(
            ("guests", "erase-person"),
            "<email or phone>",
            "erase everything held about one person; their opt-outs stay in force",
            "/comms guests erase-person ann@example.com",
            "Guests",
            Action.ERASE_PERSON,
            ask_to_erase,
        )
    )

    async def erase_pressed(request: CommandRequest, body: dict[str, Any]) -> None:
        place = request.place
        await erase(services, request.client, request.caller, place.channel_id, clicked_value(body))

    wiring.button(bolt, ERASE_ACTION, Action.ERASE_PERSON, erase_pressed)


def _address(request: CommandRequest, usage: str) -> str:
    if len(request.arguments) != 1:
        raise UsageError(usage)
    return request.arguments[0].strip("<>").removeprefix("mailto:").split("|", 1)[0]


async def export_person(request: CommandRequest) -> None:
    address = _address(request, EXPORT_USAGE)
    caller = request.caller
    try:
        document = await export_request(
            request.services.database, caller.actor, caller.organisation.id, address
        )
    except AddressError as error:
        raise InvalidValue(
            "address", str(error), "/comms guests export-person ann@example.com"
        ) from None
    # The asker's own direct message: the file holds the person's data.
    opened = await request.client.conversations_open(users=caller.member.slack_user_id)
    lines = summary(document)
    await upload_text(
        request.client,
        channel=str(opened["channel"]["id"]),
        thread_ts=None,
        filename="person-export.json",
        title="Data export for a guest's request",
        content=to_json(document),
        comment="\n".join(lines),
    )
    await request.tell(
        "I sent you the export in our direct message. "
        + lines[1]
        + " Share it with the person only, by a safe route."
    )


async def ask_to_erase(request: CommandRequest) -> None:
    address = _address(request, ERASE_USAGE)
    try:
        person = await erasure_preview(
            request.services.database, request.caller.organisation.id, address
        )
    except AddressError as error:
        raise InvalidValue(
            "address", str(error), "/comms guests erase-person ann@example.com"
        ) from None
    question = (
        f"Erase everything held about {person.asked_for[1]}? That is {person.described()}, "
        "with their messages, replies and consent records. Their opt-outs stay in force "
        "(kept only as a keyed hash of the address). This cannot be undone."
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": question}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ERASE_ACTION,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Erase"},
                    "value": person.asked_for[1],
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Erase this person's data?"},
                        "text": {
                            "type": "plain_text",
                            "text": "Everything held about them goes, for good.",
                        },
                        "confirm": {"type": "plain_text", "text": "Erase"},
                        "deny": {"type": "plain_text", "text": "Keep"},
                        "style": "danger",
                    },
                }
            ],
        },
    ]
    # Only the asker sees the question: it names the person.
    await request.client.chat_postEphemeral(
        channel=request.place.channel_id,
        user=request.caller.member.slack_user_id,
        text=question,
        blocks=blocks,
        thread_ts=request.place.thread_ts,
    )


async def erase(
    services: BotServices, client: AsyncWebClient, caller: Caller, channel: str, address: str
) -> None:
    try:
        _, erasure = await erase_request(
            services.database, caller.actor, caller.organisation.id, address
        )
    except AddressError as error:
        raise InvalidValue("address", str(error)) from None
    user = caller.member.slack_user_id
    if erasure.nothing:
        await client.chat_postEphemeral(
            channel=channel,
            user=user,
            text="Nothing is held about that address any more (any opt-out stays in force).",
        )
        return
    # The channel hears that it happened, not whose data it was.
    await post(
        client,
        channel,
        f"<@{user}> erased a person's data at their request. " + " ".join(erasure.lines()),
    )

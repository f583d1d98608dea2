"""Asking, after a guest list is imported in Slack, whether its guests agreed to texts.

When a file gives guests mobile numbers but has no ``sms_consent`` column, the
import asks the planner to confirm consent with a button. Slack shows the
exact words of the confirmation before it counts; those words, who pressed
it and when are what the consent records keep. The file is read again when
the button is pressed, so the confirmation covers exactly its guests.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack.errors import UsageError
from bot.slack.requests import CommandRequest, clicked_value
from bot.slack.router import BotWiring
from bot.slack.slack_files import fetch_shared_file
from bot.slack.wedding_lookup import find_wedding
from store.guestlist.import_consent import ConsentConfirmation
from store.guestlist.import_report import ImportReport
from store.guestlist.importer import confirm_sms_consent, read_guest_csv
from store.guestlist.reader import MAX_BYTES
from store.models import Organisation, Wedding
from store.permissions import Action

CONFIRM_ACTION = "guests_sms_consent"


def confirmation_text(file_name: str, organisation: str, wedding: Wedding) -> str:
    return (
        f"I confirm that the guests in {file_name} with a mobile number agreed to receive "
        f"text messages from {organisation} about the wedding of {wedding.couple_names}."
    )


async def ask(
    request: CommandRequest, report: ImportReport, file_id: str, file_name: str, wedding: Wedding
) -> None:
    """The question, with its button, under the import's answer."""
    text = confirmation_text(file_name, request.caller.organisation.name, wedding)
    missing = report.consent.missing
    question = (
        f"{missing} guest{'s' * (missing != 1)} in {file_name} "
        f"{'have' if missing != 1 else 'has'} a mobile number but no SMS consent on record, "
        "so they will not be texted. If they agreed to texts (on an RSVP card, a form…), "
        "confirm it and I will record it."
    )
    value = json.dumps({"file": file_id, "wedding": wedding.id})
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": question}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": CONFIRM_ACTION,
                    "text": {"type": "plain_text", "text": "They agreed to texts"},
                    "value": value,
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Record SMS consent?"},
                        "text": {"type": "plain_text", "text": text},
                        "confirm": {"type": "plain_text", "text": "I confirm"},
                        "deny": {"type": "plain_text", "text": "Cancel"},
                    },
                }
            ],
        },
    ]
    await request.say(question, blocks)


def register(bolt: AsyncApp, wiring: BotWiring) -> None:
    services = wiring.services

    async def confirmed(request: CommandRequest, body: dict[str, Any]) -> None:
        caller, client, place = request.caller, request.client, request.place
        file_id, wedding_id = _read_value(clicked_value(body))
        shared = await fetch_shared_file(client, services.settings.slack, file_id, MAX_BYTES)
        async with services.database.transaction() as session:
            wedding = await find_wedding(session, caller.organisation.id, str(wedding_id))
            organisation = await session.get(Organisation, caller.organisation.id)
            assert organisation is not None
            text = confirmation_text(shared.name, organisation.name, wedding)
            parsed = await read_guest_csv(session, wedding, shared.content)
            outcome = await confirm_sms_consent(
                session,
                caller.actor,
                wedding,
                parsed,
                ConsentConfirmation(text, str(caller.actor)),
            )
        done = (
            f"<@{place.user_id}> confirmed: “{text}” "
            f"SMS consent recorded for {outcome.granted} guest{'s' * (outcome.granted != 1)}."
        )
        message_ts = str((body.get("container") or {}).get("message_ts") or "")
        if message_ts:
            await client.chat_update(channel=place.channel_id, ts=message_ts, text=done, blocks=[])
        else:
            await client.chat_postMessage(
                channel=place.channel_id, text=done, thread_ts=place.thread_ts
            )

    wiring.button(bolt, CONFIRM_ACTION, Action.MANAGE_GUESTS, confirmed)


def _read_value(value: str) -> tuple[str, int]:
    try:
        found = json.loads(value)
        return str(found["file"]), int(found["wedding"])
    except (ValueError, KeyError, TypeError):
        raise UsageError("That button does not name a guest list; import the file again.") from None

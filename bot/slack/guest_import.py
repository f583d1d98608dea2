"""``guests import``: a CSV shared in Slack becomes the wedding's guest list.

Share the file in a channel or thread with the message ``comms guests
import`` (or give its file id: ``/comms guests import F0123ABC``; a slash
command cannot carry a file). The answer gives the counts and every row
that could not be imported, with its line and reason. When the file gives
guests mobile numbers without an ``sms_consent`` column, a button then asks
the planner to confirm they agreed to texts (``import_consent``).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack import import_consent
from bot.slack.command_table import Command
from bot.slack.errors import UsageError
from bot.slack.options import take_options
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from bot.slack.slack_files import fetch_shared_file
from bot.slack.wedding_lookup import find_wedding
from store.guestlist.importer import import_guest_csv
from store.guestlist.reader import MAX_BYTES
from store.permissions import Action

USAGE = (
    "Share the CSV file here with the message `comms guests import` (add `--wedding <wedding>` "
    "when you plan several), or give a shared file's id: `/comms guests import F0123ABC`."
)
# Slack's messages hold about 40,000 characters; a planner fixes problems a screen at a time.
MAX_PROBLEM_LINES = 40


def register(bolt: AsyncApp, wiring: BotWiring) -> None:
    import_consent.register(bolt, wiring)
    wiring.table.add(
        Command(
            ("guests", "import"),
            "[file id] [--wedding w]",
            "import a guest-list CSV shared with this message (added, updated, each bad row)",
            "comms guests import (typed as the message of a shared CSV file)",
            "Guests",
            Action.MANAGE_GUESTS,
            import_guests,
        )
    )


async def import_guests(request: CommandRequest) -> None:
    words, options = take_options(request.arguments, frozenset({"wedding"}), USAGE)
    file_ids = [str(f["id"]) for f in request.files if _is_file(f)] + words
    if not file_ids:
        raise UsageError(f"I found no file to import. {USAGE}")
    settings = request.services.settings.slack
    for file_id in file_ids:
        shared = await fetch_shared_file(request.client, settings, file_id, MAX_BYTES)
        async with request.services.database.transaction() as session:
            wedding = await find_wedding(
                session,
                request.caller.organisation.id,
                options.get("wedding"),
                request.place.channel_id,
            )
            report = await import_guest_csv(session, request.caller.actor, wedding, shared.content)
        lines = report.lines()
        shown = lines[: MAX_PROBLEM_LINES + 1]
        if len(lines) > len(shown):
            shown.append(f"… and {len(lines) - len(shown)} more; fix these and import again.")
        shown[0] = f"Imported {shared.name} into {shown[0]}"
        await request.say("\n".join(shown))
        if report.asks_for_sms_consent:
            await import_consent.ask(request, report, file_id, shared.name, wedding)


def _is_file(entry: dict[str, Any]) -> bool:
    return bool(entry.get("id")) and entry.get("mode") != "tombstone"

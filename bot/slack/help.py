"""``/comms help``: every command, grouped, each with an example."""

from __future__ import annotations

from collections import defaultdict

from slack_bolt.async_app import AsyncApp

from bot.slack.command_table import Command
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from store.permissions import Action

GROUP_ORDER = ("Weddings", "Guests", "Campaigns", "Compliance", "Members", "Alerts", "Help")


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    table = wiring.table

    async def show_help(request: CommandRequest) -> None:
        topic = [word.lower() for word in request.arguments]
        commands = [c for c in table if not topic or c.words[: len(topic)] == tuple(topic)]
        if not commands:
            commands = list(table)
        text = help_text(commands)
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": part}}
            for part in text.split("\n\n")
        ]
        await request.say(text, blocks)

    table.add(
        Command(
            words=("help",),
            arguments="[topic]",
            summary="what I can do, with examples",
            example="/comms help campaign",
            group="Help",
            action=Action.READ,
            run=show_help,
        )
    )


def help_text(commands: list[Command]) -> str:
    """Plain text that reads well aloud: a heading per group, one line per command."""
    groups: dict[str, list[Command]] = defaultdict(list)
    for command in commands:
        groups[command.group].append(command)
    order = sorted(groups, key=lambda g: GROUP_ORDER.index(g) if g in GROUP_ORDER else 99)
    parts = []
    for group in order:
        lines = [f"*{group}*"]
        for command in groups[group]:
            lines.append(f"• `{command.usage}` — {command.summary}. Example: `{command.example}`")
        parts.append("\n".join(lines))
    parts.append(
        "Everything also works as a plain message: type `comms campaign list` in a channel, "
        "or just `campaign list` in a direct message with me."
    )
    return "\n\n".join(parts)

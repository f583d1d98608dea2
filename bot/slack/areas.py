"""Every area of the bot, in the order they register."""

from __future__ import annotations

from bot.slack import campaign_commands, help
from bot.slack.bolt_app import Area

AREAS: list[Area] = [help.register, campaign_commands.register]

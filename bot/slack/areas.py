"""Every area of the bot, in the order they register."""

from __future__ import annotations

from bot.slack import following, help
from bot.slack.bolt_app import Area

AREAS: list[Area] = [help.register, following.register]

"""The ``/comms`` vocabulary: each command's words, usage, example, action and handler.

Areas add their commands with ``table.add(...)``; the router finds the
longest match, and unknown input gets the closest commands with their usage.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from store.permissions import Action

if TYPE_CHECKING:
    from bot.slack.requests import CommandRequest

Handler = Callable[["CommandRequest"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Command:
    words: tuple[str, ...]  # ("campaign", "new")
    arguments: str  # "<id>", shown after the words in the usage
    summary: str
    example: str
    group: str  # the heading in `help`
    action: Action  # what it does, in the permission table (store/permissions.py)
    run: Handler

    @property
    def usage(self) -> str:
        return " ".join(("/comms", *self.words, self.arguments)).rstrip()


class CommandTable:
    def __init__(self) -> None:
        self._commands: dict[tuple[str, ...], Command] = {}

    def add(self, command: Command) -> None:
        if command.words in self._commands:
            raise ValueError(f"/comms {' '.join(command.words)} is registered twice")
        self._commands[command.words] = command

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())

    def match(self, words: list[str]) -> tuple[Command, list[str]] | None:
        """The command whose words begin ``words`` (longest first), and the rest."""
        lowered = [word.lower() for word in words]
        for length in range(min(len(lowered), 3), 0, -1):
            command = self._commands.get(tuple(lowered[:length]))
            if command is not None:
                return command, words[length:]
        return None

    def closest(self, words: list[str], count: int = 3) -> list[Command]:
        """Commands that look like what was typed, best first."""
        typed = " ".join(word.lower() for word in words[:2])
        by_text = {" ".join(command.words): command for command in self}
        found = difflib.get_close_matches(typed, by_text, n=count, cutoff=0.5)
        if not found and words:
            # "campaign frobnicate": every command of that area.
            found = [text for text in by_text if text.split()[0] == words[0].lower()][:count]
        return [by_text[text] for text in found]

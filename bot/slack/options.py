"""``--name value`` options among a command's words (``guests add … --group family``)."""

from __future__ import annotations

from bot.slack.errors import UsageError


def take_options(
    words: list[str], names: frozenset[str], usage: str
) -> tuple[list[str], dict[str, str]]:
    """The words without the options, and the options' values (last one wins)."""
    rest: list[str] = []
    options: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--") and len(word) > 2:
            name, equals, value = word[2:].partition("=")
            name = name.lower()
            if name not in names:
                known = ", ".join(f"--{n}" for n in sorted(names)) or "none"
                raise UsageError(f"I don't know the option `{word}` (options: {known}). {usage}")
            if not equals:
                if index + 1 >= len(words):
                    raise UsageError(f"`--{name}` needs a value. {usage}")
                index += 1
                value = words[index]
            options[name] = value
        else:
            rest.append(word)
        index += 1
    return rest, options

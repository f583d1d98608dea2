"""Slack messages as terminal lines: the text fallback (which says everything),
Slack's mention and link syntax made readable, and the buttons to number."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# The one channel of the console: its id has the shape of a Slack channel id, so
# that it can be typed and stored as one (`/comms wedding set channel #planning`).
CHANNEL_ID = "C0PLANNING"
CHANNEL_NAME = "planning"
_USER = re.compile(r"<@([A-Z0-9_]+)>")
_CHANNEL = re.compile(r"<#[A-Z0-9_]+\|([^>]+)>")
_BARE_CHANNEL = re.compile(r"<#([A-Z0-9_]+)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BARE_LINK = re.compile(r"<(https?://[^>]+)>")
# "@avery" or "@U_APPROVER" typed at the start of a word (not inside an email address).
_TYPED_MENTION = re.compile(r"(?<![<\w.])@([A-Za-z0-9_]+)\b")


def readable(text: str, names: Mapping[str, str] | None = None) -> str:
    names = names or {}
    text = _USER.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + m.group(1), text)
    text = _BARE_CHANNEL.sub(
        lambda m: "#" + (CHANNEL_NAME if m.group(1) == CHANNEL_ID else m.group(1)), text
    )
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _BARE_LINK.sub(lambda m: m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def as_slack_would_send(typed: str, members: Mapping[str, str]) -> str:
    """What Slack sends for a line typed with mentions picked from its lists: the console's
    ``#planning`` and ``@U…`` or ``@first-name`` of a member become Slack's
    ``<#C…|planning>`` and ``<@U…>``; anything else is left as typed."""
    by_first_name: dict[str, list[str]] = {}
    for user_id, name in members.items():
        by_first_name.setdefault(name.split(" ")[0].lower(), []).append(user_id)

    def user(match: re.Match[str]) -> str:
        word = match.group(1)
        if word in members:
            return f"<@{word}>"
        found = by_first_name.get(word.lower(), [])
        return f"<@{found[0]}>" if len(found) == 1 else match.group(0)

    typed = re.sub(rf"(?<![<\w])#{CHANNEL_NAME}(?![\w-])", f"<#{CHANNEL_ID}|{CHANNEL_NAME}>", typed)
    return _TYPED_MENTION.sub(user, typed)


def message_lines(text: str, names: Mapping[str, str]) -> list[str]:
    # The fallback text is the whole message by the bot's own rule (it is what
    # screen readers read), so the terminal shows it rather than the layout.
    return readable(text, names).splitlines() or [""]


def buttons_of(blocks: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(label, action_id, value, block_id) of every button, in reading order."""
    found = []
    for block in blocks:
        elements = block.get("elements") if block.get("type") == "actions" else None
        accessory = block.get("accessory")
        for element in [*(elements or []), *([accessory] if accessory else [])]:
            if element.get("type") == "button":
                found.append(
                    (
                        str(element.get("text", {}).get("text", "")),
                        str(element.get("action_id", "")),
                        str(element.get("value", "")),
                        str(block.get("block_id", "")),
                    )
                )
    return found

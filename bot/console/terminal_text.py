"""Slack messages as terminal lines: the text fallback (which says everything),
Slack's mention and link syntax made readable, and the buttons to number."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_USER = re.compile(r"<@([A-Z0-9_]+)>")
_CHANNEL = re.compile(r"<#[A-Z0-9_]+\|([^>]+)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BARE_LINK = re.compile(r"<(https?://[^>]+)>")


def readable(text: str, names: Mapping[str, str] | None = None) -> str:
    names = names or {}
    text = _USER.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + m.group(1), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _BARE_LINK.sub(lambda m: m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


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

"""Audit log rows in words, the same for ``/comms audit`` and ``guestcomms audit``.

Each row: its number, when (in the organisation's time zone, named), who,
what (``campaign.approved``), on what (``campaign 3``), which fields changed
from what to what (personal data shows as ``[redacted]``: it never entered the
log in clear), and the request it came with.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from store.models import AuditEntry
from store.repositories.audit_log import AuditPage

MOST_VALUE_CHARACTERS = 60
MOST_CHANGE_CHARACTERS = 400


@dataclass(frozen=True, slots=True)
class AuditStyle:
    """How a surface names people and protects its markup."""

    actor: Callable[[str], str]  # "slack:U123" → "<@U123>" or "Pat Planner (slack:U123)"
    escape: Callable[[str], str]  # Slack's &, <, >; nothing for a terminal
    code: Callable[[str], str]  # `campaign.approved` in Slack


def slack_style() -> AuditStyle:
    def actor(text: str) -> str:
        kind, _, user = text.partition(":")
        if kind == "slack" and user[:1] in ("U", "W"):
            return f"<@{user}>"
        return _slack_escape(text)

    return AuditStyle(actor, _slack_escape, lambda text: f"`{text}`")


def terminal_style(names: Mapping[str, str]) -> AuditStyle:
    """``names``: Slack user id → display name, for the members the rows mention."""

    def actor(text: str) -> str:
        kind, _, user = text.partition(":")
        name = names.get(user) if kind == "slack" else None
        return f"{name} ({text})" if name and name != user else text

    return AuditStyle(actor, lambda text: text, lambda text: text)


def heading(organisation_name: str, covering: str, zone: ZoneInfo) -> str:
    return f"Audit log of {organisation_name} — {covering}, newest first (times in {zone.key})"


def entry_text(entry: AuditEntry, zone: ZoneInfo, style: AuditStyle) -> str:
    when = entry.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    first = (
        f"#{entry.id} {when} — {style.actor(entry.actor)} — {style.code(entry.action)} "
        f"{style.escape(entry.entity_type)} {style.escape(entry.entity_id)}"
    )
    details = [changes(entry.before, entry.after, style)]
    if entry.request_id:
        details.append(f"request {style.escape(entry.request_id)}")
    return first + "\n    " + " · ".join(detail for detail in details if detail)


def footer(page: AuditPage, again: Callable[[int], str]) -> str:
    """Where the page ends, and how to see the next one (``again``: the command for it)."""
    if not page.entries:
        return "Nothing in the audit log matches."
    shown = f"{len(page.entries)} row{'' if len(page.entries) == 1 else 's'}"
    if page.next_before is None:
        return f"{shown}; that is all."
    return f"{shown} shown; older ones: {again(page.next_before)}"


def changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, style: AuditStyle
) -> str:
    """``state: draft → pending_approval; name: [redacted]`` — only what changed."""
    if before is None and after is None:
        return ""
    if before is None:
        parts = [f"{key}: {_value(value, style)}" for key, value in (after or {}).items()]
        text = "set " + "; ".join(parts)
    elif after is None:
        parts = [f"{key}: {_value(value, style)}" for key, value in before.items()]
        text = "was " + "; ".join(parts)
    else:
        keys = [key for key in {**before, **after} if before.get(key) != after.get(key)]
        text = "; ".join(
            f"{key}: {_value(before.get(key), style)} → {_value(after.get(key), style)}"
            for key in keys
        )
    return text if len(text) <= MOST_CHANGE_CHARACTERS else text[: MOST_CHANGE_CHARACTERS - 1] + "…"


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """One row for ``guestcomms audit --json``: everything, times in UTC (ISO 8601)."""
    return {
        "id": entry.id,
        "time": entry.created_at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
        "request_id": entry.request_id,
    }


def _value(value: Any, style: AuditStyle) -> str:
    if value is None or value == "":
        text = "none"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple):
        text = ", ".join(str(item) for item in value) or "none"
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > MOST_VALUE_CHARACTERS:
        text = text[: MOST_VALUE_CHARACTERS - 1] + "…"
    return style.escape(text)


def _slack_escape(text: str) -> str:
    # Slack's three control characters; everything else shows as written.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

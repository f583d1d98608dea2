"""``/comms audit [campaign N] [guest <email|phone>] [since <date>] [before #N]``:
who changed what, newest first, twenty rows a page, told only to the owner or
admin who asked (the log names members and what they did)."""

from __future__ import annotations

import shlex
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.audit_text import entry_text, footer, heading, slack_style
from bot.slack.command_table import Command
from bot.slack.errors import UsageError
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from store.permissions import Action
from store.repositories.audit_log import (
    AuditQuestion,
    audit_page,
    organisation_zone,
    read_question,
)

USAGE = "/comms audit [campaign N] [guest <email or phone>] [since YYYY-MM-DD] [before #N]"
_KEYWORDS = ("campaign", "guest", "since", "before")


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    wiring.table.add(
        Command(
            ("audit",),
            "[campaign N] [guest <email|phone>] [since YYYY-MM-DD] [before #N]",
            "who changed what and when, newest first (owners and admins)",
            "/comms audit campaign 3",
            "Members",
            Action.READ_AUDIT,
            show_audit,
        )
    )


def question_of(words: list[str]) -> AuditQuestion:
    """``campaign 3 since 2026-12-01`` → the question; each keyword takes one value."""
    given: dict[str, str] = {}
    rest = list(words)
    while rest:
        keyword = rest.pop(0).lower()
        if keyword not in _KEYWORDS:
            raise UsageError(f"I don't know “{keyword}” here. Usage: `{USAGE}`.")
        if not rest:
            raise UsageError(f"Say which {keyword} after “{keyword}”. Usage: `{USAGE}`.")
        if keyword in given:
            raise UsageError(f"Give “{keyword}” once. Usage: `{USAGE}`.")
        value = rest.pop(0)
        if keyword == "since" and rest and ":" in rest[0]:
            value += " " + rest.pop(0)  # since 2026-12-01 14:00
        given[keyword] = value
    return AuditQuestion(**given)


async def show_audit(request: CommandRequest) -> None:
    question = question_of(request.arguments)
    organisation = request.caller.organisation
    async with request.services.database.reading() as session:
        wanted, covering = await read_question(session, organisation, question)
        page = await audit_page(session, organisation.id, wanted)
    zone = organisation_zone(organisation)
    style = slack_style()
    title = heading(organisation.name, covering, zone)
    rows = [entry_text(entry, zone, style) for entry in page.entries]
    end = footer(page, lambda before: f"`{_again(question, before)}`")
    text = "\n".join([f"*{style.escape(title)}*", *rows, end])
    blocks: list[dict[str, Any]] = [_section(f"*{style.escape(title)}*")]
    blocks += [_section(row) for row in rows]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": end}]})
    await request.tell(text, blocks)


def _again(question: AuditQuestion, before: int) -> str:
    """The same command for the next page."""
    words = ["/comms audit"]
    for keyword in _KEYWORDS[:3]:
        value = getattr(question, keyword)
        if value is not None:
            words += [keyword, shlex.quote(value)]
    return " ".join([*words, f"before #{before}"])


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}

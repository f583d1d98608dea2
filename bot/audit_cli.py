"""``guestcomms audit``: the audit log for operators, the same listing as ``/comms audit``
(bot/audit_text.py), or JSON with every field."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit_text import entry_json, entry_text, footer, heading, terminal_style
from bot.settings import Settings
from store.database import Database
from store.errors import AuditQueryError, NotFound
from store.migrate import migrate
from store.models import Organisation
from store.repositories.audit_log import (
    PAGE_SIZE,
    AuditQuestion,
    audit_page,
    member_names,
    organisation_zone,
    read_question,
)
from store.repositories.operations import OperationsQueries

EXIT_OK = 0
EXIT_REFUSED = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--campaign", help="only this campaign's rows (its number)")
    parser.add_argument("--guest", help="only rows about the guest with this email or phone")
    parser.add_argument("--since", help="only rows since YYYY-MM-DD[ HH:MM], organisation's time")
    parser.add_argument("--before", help="the next page: rows older than this row number")
    parser.add_argument(
        "--limit", type=int, default=PAGE_SIZE, help=f"rows per page (default {PAGE_SIZE})"
    )
    parser.add_argument("--organisation", help="organisation slug or id (default: the only one)")
    parser.add_argument("--json", action="store_true", help="JSON: every field, times in UTC")


async def audit_command(args: argparse.Namespace, settings: Settings) -> int:
    database = Database(settings.store)
    try:
        await migrate(database)
        return await _audit(args, database)
    finally:
        await database.dispose()


async def _audit(args: argparse.Namespace, database: Database) -> int:
    question = AuditQuestion(args.campaign, args.guest, args.since, args.before)
    try:
        async with database.reading() as session:
            organisation = await _one_organisation(session, args.organisation)
            wanted, covering = await read_question(session, organisation, question)
            page = await audit_page(session, organisation.id, wanted, args.limit)
            names = await member_names(session, organisation.id)
    except (NotFound, AuditQueryError, ValueError) as error:
        text = str(error)
        sentence = text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
        print(f"Cannot read the audit log: {sentence}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        answer = {
            "organisation": organisation.slug,
            "entries": [entry_json(entry) for entry in page.entries],
            "next_before": page.next_before,
        }
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return EXIT_OK
    zone = organisation_zone(organisation)
    style = terminal_style(names)
    print(heading(organisation.name, covering, zone))
    for entry in page.entries:
        print(entry_text(entry, zone, style))
    print(footer(page, lambda before: _again(args, before)))
    return EXIT_OK


def _again(args: argparse.Namespace, before: int) -> str:
    """The command for the next page."""
    words = ["guestcomms", "audit"]
    for option in ("organisation", "campaign", "guest", "since"):
        if getattr(args, option) is not None:
            words += [f"--{option}", getattr(args, option)]
    if args.limit != PAGE_SIZE:
        words += ["--limit", str(args.limit)]
    return shlex.join([*words, "--before", str(before)])


async def _one_organisation(session: AsyncSession, reference: str | None) -> Organisation:
    """The organisation named (slug or id), or the only one there is."""
    if reference is not None:
        found = await OperationsQueries(session).organisation(reference)
        if found is None:
            raise NotFound("organisation", reference)
        return found
    organisations = list(await session.scalars(select(Organisation).limit(11)))
    if len(organisations) == 1:
        return organisations[0]
    if not organisations:
        raise AuditQueryError("there is no organisation yet; load one with guestcomms demo-data")
    names = ", ".join(organisation.slug for organisation in organisations[:10])
    raise AuditQueryError(f"there are several organisations; name one with --organisation: {names}")

"""``guestcomms guest export|erase ADDRESS``: a guest's data request, from the command line.

``export`` writes the JSON document to standard output (or ``--output``) and a
short summary to standard error; ``erase`` says whom it would erase and asks
for the word ERASE, or goes ahead with ``--yes`` (for scripts). Both are
audited as the CLI, with counts and ids only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.secrets import with_kept_data_keys
from bot.settings import Settings
from store.addresses import AddressError
from store.audit import CLI
from store.database import Database
from store.errors import NotFound
from store.migrate import migrate
from store.privacy.person_export import summary, to_json
from store.privacy.requests import erase_request, erasure_preview, export_request
from store.repositories.inbound import only_organisation
from store.repositories.operations import OperationsQueries

# As bot.cli: 0 done, 2 refused (nothing changed).
EXIT_OK = 0
EXIT_REFUSED = 2
CONFIRMATION = "ERASE"

Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]


def register(commands: Any) -> None:
    """Add ``guest export`` and ``guest erase`` to the CLI's sub-commands."""
    guest = commands.add_parser(
        "guest",
        help="A guest's data request: export or erase everything held about one person.",
        description="A guest's data request: export or erase everything held about one person.",
    )
    actions = guest.add_subparsers(title="actions", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="Write everything held about a person (by email or phone) as JSON.",
        description="Write everything held about a person (by email or phone) as JSON.",
    )
    export.set_defaults(command=_export, command_name="guest export")
    export.add_argument("--output", help="write the JSON here instead of standard output")
    erase = actions.add_parser(
        "erase",
        help="Erase a person's data (their opt-outs stay in force, as keyed hashes).",
        description="Erase a person's data (their opt-outs stay in force, as keyed hashes).",
    )
    erase.set_defaults(command=_erase, command_name="guest erase")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for sub in (export, erase):
        sub.add_argument("address", help="the person's email address or phone number")
        sub.add_argument(
            "--organisation", help="organisation slug or id (default: the only organisation)"
        )


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    async def run(database: Database) -> int:
        organisation_id = await _organisation(database, args.organisation)
        document = await export_request(database, CLI, organisation_id, args.address)
        text = to_json(document)
        if args.output:
            await asyncio.to_thread(_write_private, Path(args.output), text)
        else:
            sys.stdout.write(text)
        for line in summary(document):
            print(line, file=sys.stderr)
        return EXIT_OK

    return await _refusing(settings, "export", run)


async def _erase(args: argparse.Namespace, settings: Settings) -> int:
    async def run(database: Database) -> int:
        organisation_id = await _organisation(database, args.organisation)
        person = await erasure_preview(database, organisation_id, args.address)
        if not args.yes:
            if not sys.stdin.isatty():
                print(
                    f"Not erased: confirm with --yes (this would erase {person.described()}).",
                    file=sys.stderr,
                )
                return EXIT_REFUSED
            print(f"This erases everything held about {args.address}: {person.described()}.")
            print("Their opt-outs stay in force. It cannot be undone.")
            typed = await asyncio.to_thread(input, f"Type {CONFIRMATION} to go ahead: ")
            if typed.strip() != CONFIRMATION:
                print("Nothing was erased.")
                return EXIT_REFUSED
        _, erasure = await erase_request(database, CLI, organisation_id, args.address)
        print("\n".join(erasure.lines()))
        return EXIT_OK

    return await _refusing(settings, "erase", run)


async def _refusing(
    settings: Settings, doing: str, work: Callable[[Database], Awaitable[int]]
) -> int:
    database = Database(with_kept_data_keys(settings.store))
    try:
        await migrate(database)
        return await work(database)
    except (AddressError, NotFound) as error:
        text = str(error)
        print(f"Cannot {doing}: {text[:1].upper()}{text[1:]}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        await database.dispose()


async def _organisation(database: Database, reference: str | None) -> int:
    async with database.reading() as session:
        if reference is None:
            organisation = await only_organisation(session)
            if organisation is None:
                raise NotFound("organisation", "(name one with --organisation)")
        else:
            organisation = await OperationsQueries(session).organisation(reference)
            if organisation is None:
                raise NotFound("organisation", reference)
        return organisation.id


def _write_private(path: Path, text: str) -> None:
    """Readable by this user only: the file holds a person's data."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)

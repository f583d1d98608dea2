"""The ``guestcomms`` command line. Each command does its own set-up, migrations included."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot import audit_cli, cli_person, event_loop, processes
from bot.backup_cli import backup_command, restore_command
from bot.console.run import console
from bot.error_reporting import start_error_reporting
from bot.log_setup import configure_logging, keep_out_of_logs
from bot.preview_text import preview_lines
from bot.secrets import with_kept_data_keys, with_kept_secrets
from bot.settings import Settings, load_settings
from dispatch.compose.builtin_templates import BUILTIN_TEMPLATES
from dispatch.compose.preview import preview_campaign
from handlers import api_tokens
from handlers.errors import NotConfigured
from store.audit import CLI
from store.database import Database
from store.demo import DEMO_ORGANISATION, load_demo_data
from store.enums import Channel
from store.errors import AmbiguousWedding, NotFound, SegmentError
from store.guestlist.export import load_guests, to_csv, to_json
from store.guestlist.import_consent import ConsentConfirmation
from store.guestlist.importer import import_guest_csv
from store.guestlist.reader import MAX_BYTES, ImportRefused
from store.key_rotation import DEFAULT_BATCH, RotationReport, rotate_keys
from store.keyring import KeyringError
from store.migrate import migrate
from store.models import Campaign
from store.models.base import utcnow
from store.repositories.operations import OperationsQueries
from store.repositories.organisations import WeddingRepository
from store.segments import parse_segment

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2
# What the operator confirms with ``import --sms-consent``, kept as the consent's evidence.
CLI_CONSENT_TEXT = (
    "The person importing confirmed that the guests in this file with a mobile number "
    "agreed to receive text messages about the wedding"
)
# The processes that report errors to Sentry when SENTRY_DSN is set.
LONG_RUNNING = frozenset({"serve", "scheduler", "dev"})
# Every other command needs the personal-data keys (migrate too: it hashes opt-outs
# and seals guests already there), and refuses before anything starts without them.
# This one never touches personal data: a laptop's keys are not even made for it.
WITHOUT_DATA_KEYS = frozenset({"token"})

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging()
    command: Command = args.command
    try:
        settings = load_settings()
    except ValidationError as error:
        print(f"The configuration is not valid: {_settings_problems(error)}", file=sys.stderr)
        return EXIT_FAILED
    keep_out_of_logs(settings)
    try:
        # Keys kept under var/ on a laptop; required in the environment anywhere else.
        if args.command_name not in WITHOUT_DATA_KEYS:
            settings = replace(settings, store=with_kept_data_keys(settings.store))
            keep_out_of_logs(settings)  # keys generated just now are secrets too
    except KeyringError as error:
        print(f"guestcomms {args.command_name} cannot run: {_sentence(error)}", file=sys.stderr)
        return EXIT_FAILED
    if args.command_name in LONG_RUNNING:
        start_error_reporting(settings.reporting, args.command_name)
    try:
        if args.command_name in LONG_RUNNING:
            return event_loop.run(command(args, settings))
        return asyncio.run(command(args, settings))
    except KeyringError as error:
        print(_unreadable(args.command_name, error), file=sys.stderr)
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None)
        if isinstance(cause, KeyringError):  # raised while a statement was prepared
            print(_unreadable(args.command_name, cause), file=sys.stderr)
            return EXIT_FAILED
        print(
            f"The database at {_describe_url(settings)} cannot be used: {_first_line(error)}",
            file=sys.stderr,
        )
    except OSError as error:
        hint = (
            f"; is the database at {_describe_url(settings)} running?"
            if isinstance(error, ConnectionError)
            else ""
        )
        print(f"guestcomms {args.command_name} failed: {error}{hint}", file=sys.stderr)
    return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="guestcomms",
        description="Guest messaging for wedding professionals: campaigns, opt-outs, RSVPs.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def add(name: str, command: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(command=command, command_name=name)
        return sub

    add("migrate", _migrate, "Bring the database schema up to date.")
    add("demo-data", _demo_data, "Load the demo organisation, wedding and guests (once).")
    importer = add("import", _import, "Import a guest-list CSV into a wedding.")
    importer.add_argument("file", help="the CSV file, or - for standard input")
    importer.add_argument("--wedding", help="wedding id or slug (default: the only wedding)")
    importer.add_argument(
        "--sms-consent",
        action="store_true",
        help="you confirm that the file's guests with a mobile number agreed to texts "
        "(recorded as their consent where the file has no sms_consent value)",
    )
    exporter = add("export", _export, "Write a wedding's guests to standard output.")
    exporter.add_argument("--wedding", help="wedding id or slug (default: the only wedding)")
    exporter.add_argument("--format", choices=("csv", "json"), default="csv")
    exporter.add_argument(
        "--segment",
        default="",
        help='only guests matching a segment, e.g. "rsvp=pending channel=sms"',
    )
    preview = add(
        "preview",
        _preview,
        "Show what guests would receive from a template, and its compliance report.",
    )
    preview.add_argument("--wedding", help="wedding id or slug (default: the only wedding)")
    preview.add_argument("--template", choices=sorted(BUILTIN_TEMPLATES), default="invitation")
    preview.add_argument("--segment", default="", help='audience, e.g. "rsvp=pending"')
    preview.add_argument(
        "--channels", default="email,sms", help="email, sms or email,sms (default both)"
    )
    preview.add_argument(
        "--at",
        help="when it would be sent, in the wedding's time zone (YYYY-MM-DD HH:MM; default now)",
    )
    preview.add_argument(
        "--day-of", action="store_true", help="day-of logistics: may text in quiet hours"
    )
    serve = add("serve", _serve, "Run the web server (webhooks, health, API).")
    serve.add_argument("--port", type=int, help="port to listen on (default: PORT or 8080)")
    scheduler = add(
        "scheduler",
        _scheduler,
        "Run the periodic tick: start scheduled campaigns, wake deferred messages, "
        "settle what stopped workers left.",
    )
    scheduler.add_argument("--every", type=float, default=processes.TICK_SECONDS, help="seconds")
    dev = add(
        "dev",
        _dev,
        "Web server, workers and scheduler in one process (the laptop setup).",
    )
    dev.add_argument("--port", type=int, help="port to listen on (default: PORT or 8080)")
    dev.add_argument("--every", type=float, default=processes.TICK_SECONDS, help="tick seconds")
    console = add(
        "console",
        _console,
        "Everything `dev` runs, with the Slack conversation in this terminal (no Slack needed).",
    )
    console.add_argument("--port", type=int, help="port to listen on (default: PORT or 8080)")
    console.add_argument("--every", type=float, default=processes.TICK_SECONDS, help="tick seconds")
    audit_cli.add_arguments(
        add("audit", audit_cli.audit_command, "Show the audit log, as /comms audit does.")
    )
    backup = add(
        "backup",
        backup_command,
        "Copy the database while guestcomms runs (SQLite: a database file; "
        "PostgreSQL: a pg_dump custom-format archive).",
    )
    backup.add_argument("path", help="the new backup file (must not exist yet)")
    restore = add(
        "restore",
        restore_command,
        "Restore a backup made by `guestcomms backup`, then migrate it; a database that "
        "holds data is replaced only with --force.",
    )
    restore.add_argument("path", help="the backup file")
    restore.add_argument("--force", action="store_true", help="replace a database that holds data")
    cli_person.register(commands)
    rotation = add(
        "rotate-keys",
        _rotate_keys,
        "Re-encrypt guests' personal data with the first key of DATA_ENCRYPTION_KEYS "
        "(and encrypt any still in clear).",
    )
    rotation.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        help=f"guests per transaction (default {DEFAULT_BATCH})",
    )
    token = add("token", _token, "Print an operator API token (a bearer JWT).")
    token.add_argument("--role", required=True, help=f"one of {', '.join(api_tokens.ROLES)}")
    token.add_argument("--hours", default="24", help="how long it is valid (default 24)")
    token.add_argument("--subject", default="operator", help="who it is for (default operator)")
    token.add_argument(
        "--organisation", help="organisation slug or id: the token sees only that one"
    )
    return parser


async def _open_database(settings: Settings) -> Database:
    database = Database(with_kept_data_keys(settings.store))
    await migrate(database)
    return database


async def _with_database(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    database = await _open_database(settings)
    try:
        return await work(database)
    finally:
        await database.dispose()


async def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    async def done(_database: Database) -> int:
        print(f"Database is up to date ({_describe_url(settings)}).")
        return EXIT_OK

    return await _with_database(settings, done)


async def _demo_data(_args: argparse.Namespace, settings: Settings) -> int:
    async def load(database: Database) -> int:
        async with database.transaction() as session:
            result = await load_demo_data(session, CLI)
        if result.created:
            print(
                f"Loaded the demo organisation “{DEMO_ORGANISATION}” with one wedding "
                f"(Alex & Sam) and {result.guests} guests."
            )
        else:
            print(f"Demo data is already loaded (organisation “{DEMO_ORGANISATION}”).")
        return EXIT_OK

    return await _with_database(settings, load)


async def _import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = _read_input(args.file)
    except OSError as error:
        print(f"Cannot read {args.file}: {error.strerror or error}", file=sys.stderr)
        return EXIT_REFUSED

    async def run(database: Database) -> int:
        try:
            async with database.transaction() as session:
                wedding = await WeddingRepository(session).resolve(args.wedding)
                confirmation = (
                    ConsentConfirmation(
                        f"{CLI_CONSENT_TEXT} (guestcomms import {args.file} --sms-consent)",
                        str(CLI),
                    )
                    if args.sms_consent
                    else None
                )
                report = await import_guest_csv(
                    session, CLI, wedding, data, sms_consent=confirmation
                )
        except (ImportRefused, NotFound, AmbiguousWedding) as error:
            print(f"Refused {args.file}: {_sentence(error)}", file=sys.stderr)
            return EXIT_REFUSED
        lines = report.lines(
            consent_hint="If they agreed to texts, import the file again with --sms-consent, "
            "or add an sms_consent column (yes or no)."
        )
        print(f"Imported {args.file} into {lines[0]}")
        for line in lines[1:]:
            print(f"  {line}")
        return EXIT_OK

    return await _with_database(settings, run)


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    async def run(database: Database) -> int:
        try:
            segment = parse_segment(args.segment)
            async with database.reading() as session:
                wedding = await WeddingRepository(session).resolve(args.wedding)
                guests = await load_guests(session, wedding.id, segment)
        except (NotFound, AmbiguousWedding, SegmentError) as error:
            print(f"Cannot export: {_sentence(error)}", file=sys.stderr)
            return EXIT_REFUSED
        sys.stdout.write(to_json(guests) if args.format == "json" else to_csv(guests))
        return EXIT_OK

    return await _with_database(settings, run)


async def _preview(args: argparse.Namespace, settings: Settings) -> int:
    try:
        channels = [Channel(part.strip().lower()) for part in args.channels.split(",") if part]
    except ValueError:
        print(f"Cannot preview: “{args.channels}” is not email, sms or email,sms.", file=sys.stderr)
        return EXIT_REFUSED

    async def run(database: Database) -> int:
        try:
            async with database.reading() as session:
                wedding = await WeddingRepository(session).resolve(args.wedding)
                send_at = _local_time(args.at, wedding.timezone) if args.at else utcnow()
                draft = Campaign(
                    organisation_id=wedding.organisation_id,
                    wedding_id=wedding.id,
                    name="Preview",
                    channels=[channel.value for channel in channels],
                    audience=args.segment,
                    template_key=args.template,
                    scheduled_at=send_at,
                    day_of_logistics=args.day_of,
                )
                preview = await preview_campaign(session, draft, settings.dispatch, utcnow())
        except (NotFound, AmbiguousWedding, ValueError) as error:
            print(f"Cannot preview: {_sentence(error)}", file=sys.stderr)
            return EXIT_REFUSED
        title = BUILTIN_TEMPLATES[args.template].title
        print("\n".join(preview_lines(preview, title)))
        return EXIT_REFUSED if preview.report.blocking else EXIT_OK

    return await _with_database(settings, run)


async def _rotate_keys(args: argparse.Namespace, settings: Settings) -> int:
    if args.batch_size < 1:
        print("Cannot rotate keys: --batch-size must be at least 1.", file=sys.stderr)
        return EXIT_REFUSED

    def progress(report: RotationReport) -> None:
        print(
            f"  {report.examined:,} guests examined, {report.resealed:,} re-encrypted",
            file=sys.stderr,
        )

    async def run(database: Database) -> int:
        report = await rotate_keys(database, CLI, args.batch_size, progress)
        print(
            f"Re-encrypted {report.resealed:,} of {report.examined:,} guests with key "
            f"{report.key_id} ({report.were_clear:,} of them were still in clear)."
        )
        if report.remaining:
            print(
                f"{report.remaining:,} values are still under another key or in clear: they "
                "were written during the run by a process that does not put the new key "
                "first. Give every process the new DATA_ENCRYPTION_KEYS and run "
                "guestcomms rotate-keys again.",
                file=sys.stderr,
            )
            return EXIT_FAILED
        print(
            f"Every guest's data is under key {report.key_id}: the other keys may now be "
            "removed from DATA_ENCRYPTION_KEYS."
        )
        return EXIT_OK

    return await _with_database(settings, run)


def _local_time(text: str, zone: str) -> datetime:
    """``2027-05-01 10:00`` in the wedding's time zone, as an aware UTC time."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    await (await _open_database(settings)).dispose()
    await processes.serve(settings, args.port or settings.web.port)
    return EXIT_OK


async def _scheduler(args: argparse.Namespace, settings: Settings) -> int:
    await (await _open_database(settings)).dispose()
    await processes.scheduler(settings, args.every)
    return EXIT_OK


async def _dev(args: argparse.Namespace, settings: Settings) -> int:
    await (await _open_database(settings)).dispose()
    port = settings.web.port if args.port is None else args.port
    if sys.stdin.isatty() and settings.slack.missing():
        # A newcomer at a terminal with no Slack app yet: the conversation here.
        await console(settings, port, args.every)
    else:
        await processes.dev(settings, port, args.every)
    return EXIT_OK


async def _console(args: argparse.Namespace, settings: Settings) -> int:
    await (await _open_database(settings)).dispose()
    await console(settings, settings.web.port if args.port is None else args.port, args.every)
    return EXIT_OK


async def _token(args: argparse.Namespace, settings: Settings) -> int:
    try:
        role = api_tokens.parse_role(args.role)
        lifetime = api_tokens.lifetime(args.hours)
        tokens = api_tokens.ApiTokens(
            [key.get_secret_value() for key in with_kept_secrets(settings).web.jwt_secret]
        )
        organisation = None
        if args.organisation is not None:
            organisation = await _organisation_slug(settings, args.organisation)
        token = tokens.issue(
            role, subject=args.subject, organisation=organisation, lifetime=lifetime
        )
    except (ValueError, NotFound) as error:
        print(f"Cannot make a token: {_sentence(error)}", file=sys.stderr)
        return EXIT_REFUSED
    except NotConfigured as error:
        print(f"Cannot make a token: {_sentence(error)}", file=sys.stderr)
        return EXIT_FAILED
    print(token)
    return EXIT_OK


async def _organisation_slug(settings: Settings, reference: str) -> str:
    database = await _open_database(settings)
    try:
        async with database.reading() as session:
            organisation = await OperationsQueries(session).organisation(reference)
    finally:
        await database.dispose()
    if organisation is None:
        raise NotFound("organisation", reference)
    return organisation.slug


def _read_input(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read(MAX_BYTES + 1)
    path = Path(name)
    with path.open("rb") as handle:
        # Read one byte past the limit so the importer can say the file is too big
        # without the CLI holding a huge file in memory.
        return handle.read(MAX_BYTES + 1)


def _sentence(error: Exception) -> str:
    text = str(error)
    sentence = text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
    if isinstance(error, NotFound) and error.key is None:
        sentence += " Load the demo wedding with: guestcomms demo-data"
    return sentence


def _unreadable(command: str, error: KeyringError) -> str:
    return f"guestcomms {command} cannot read guests' personal data: {_sentence(error)}"


def _describe_url(settings: Settings) -> str:
    try:
        return make_url(settings.store.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "DATABASE_URL (not a database URL)"


def _first_line(error: SQLAlchemyError) -> str:
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


def _settings_problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'_'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']}"
        for problem in error.errors()
    )


if __name__ == "__main__":
    raise SystemExit(main())

"""``guests add|list|count|export``: a wedding's guest list from Slack.

Lists show names, answers and which channels reach a guest, never the
addresses themselves: a channel's history is read by more people than the
planner, and an address is one command (export) away for those who need it.
"""

from __future__ import annotations

import shlex

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from bot.slack.command_table import Command
from bot.slack.errors import InvalidValue, UsageError
from bot.slack.guest_audience import reach_of
from bot.slack.options import take_options
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from bot.slack.slack_files import upload_text
from bot.slack.wedding_lookup import find_wedding
from store.addresses import AddressError, normalise_email, normalise_phone
from store.guestlist.export import load_guests, to_csv
from store.guestlist.importer import apply_guest_rows
from store.guestlist.reader import GuestRow, ParsedGuestList
from store.models import Organisation, Wedding
from store.permissions import Action
from store.repositories.guests import groups_by_guest
from store.segments import Segment, by_name, parse_segment, segment_guests

LIST_LIMIT = 20
ADD_EXAMPLE = '/comms guests add "Jo Bloggs" jo@example.com +12015550177 --group family'
ADD_USAGE = (
    'Usage: `/comms guests add "<name>" [email] [phone] [--group <group>] [--wedding <wedding>]`, '
    'e.g. `/comms guests add "Jo Bloggs" jo@example.com +12015550177 --group family`.'
)


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    for command in (
        Command(
            ("guests", "add"),
            '"<name>" [email] [phone] [--group g] [--wedding w]',
            "add one guest (or complete the guest with that email or phone)",
            '/comms guests add "Jo Bloggs" jo@example.com +12015550177 --group family',
            "Guests",
            Action.MANAGE_GUESTS,
            add_guest,
        ),
        Command(
            ("guests", "list"),
            "[segment] [--wedding w]",
            f"the first {LIST_LIMIT} guests of a segment, and how many there are",
            "/comms guests list rsvp=pending group=family",
            "Guests",
            Action.READ,
            list_guests,
        ),
        Command(
            ("guests", "count"),
            "[segment] [--wedding w]",
            "how many guests a segment holds, and how many can be emailed or texted",
            "/comms guests count rsvp=pending",
            "Guests",
            Action.READ,
            count_guests,
        ),
        Command(
            ("guests", "export"),
            "[segment] [--wedding w]",
            "the guest list as a CSV file, shared here",
            "/comms guests export rsvp=confirmed",
            "Guests",
            Action.EXPORT_GUESTS,
            export_guests,
        ),
    ):
        wiring.table.add(command)


def _segment_and_wedding(request: CommandRequest, usage: str) -> tuple[Segment, str | None]:
    words, options = take_options(request.arguments, frozenset({"wedding"}), usage)
    return parse_segment(" ".join(shlex.quote(word) for word in words)), options.get("wedding")


async def list_guests(request: CommandRequest) -> None:
    segment, reference = _segment_and_wedding(request, "Usage: `/comms guests list [segment]`.")
    async with request.services.database.reading() as session:
        wedding = await _wedding(request, session, reference)
        selected = await segment_guests(session, wedding.id, segment)
        total, guests = len(selected), by_name(selected)[:LIST_LIMIT]
        groups = await groups_by_guest(session, wedding.id, [guest.id for guest in guests])
    heading = f"{wedding.couple_names}, {segment.describe()}: {total} guest{'s' * (total != 1)}"
    if total > len(guests):
        heading += f" (the first {len(guests)} by name)"
    lines = [heading + "."]
    for guest in guests:
        reach = " and ".join(
            name for name, address in (("email", guest.email), ("SMS", guest.phone)) if address
        )
        lines.append(
            f"• {guest.name} — {guest.rsvp_status.value}, party of {guest.party_size}"
            + (f", {', '.join(groups[guest.id])}" if groups.get(guest.id) else "")
            + f"; {reach or 'no address'}"
        )
    await request.say("\n".join(lines))


async def count_guests(request: CommandRequest) -> None:
    segment, reference = _segment_and_wedding(request, "Usage: `/comms guests count [segment]`.")
    async with request.services.database.reading() as session:
        wedding = await _wedding(request, session, reference)
        total, reach = await reach_of(session, wedding, segment)
    lines = [f"{wedding.couple_names}, {segment.describe()}: {total} guest{'s' * (total != 1)}."]
    lines += [channel.sentence() for channel in reach]
    await request.say("\n".join(lines))


async def export_guests(request: CommandRequest) -> None:
    segment, reference = _segment_and_wedding(request, "Usage: `/comms guests export [segment]`.")
    async with request.services.database.reading() as session:
        wedding = await _wedding(request, session, reference)
        guests = await load_guests(session, wedding.id, segment)
    comment = (
        f"{wedding.couple_names}, {segment.describe()}: {len(guests)} guests as a CSV file "
        "(it imports back with `comms guests import`)."
    )
    await upload_text(
        request.client,
        channel=request.place.channel_id,
        thread_ts=request.place.thread_ts,
        filename=f"{wedding.slug}-guests.csv",
        title=f"Guests of {wedding.couple_names}",
        content=to_csv(guests),
        comment=comment,
    )


async def add_guest(request: CommandRequest) -> None:
    words, options = take_options(request.arguments, frozenset({"group", "wedding"}), ADD_USAGE)
    if not words:
        raise UsageError(ADD_USAGE)
    name, contacts = words[0].strip(), words[1:]
    if not name or len(name) > 200:
        raise InvalidValue("name", "a guest needs a name of at most 200 characters", ADD_EXAMPLE)
    caller = request.caller
    async with request.services.database.transaction() as session:
        wedding = await _wedding(request, session, options.get("wedding"))
        organisation = await session.get(Organisation, wedding.organisation_id)
        country = organisation.default_country if organisation else "US"
        email, phone = _contacts(contacts, country)
        group = options.get("group")
        row = GuestRow(
            line=1,
            name=name,
            email=email,
            phone=phone,
            groups=[" ".join(group.lower().split())] if group else None,
        )
        report = await apply_guest_rows(
            session, caller.actor, wedding, ParsedGuestList([row], [], [])
        )
        if report.problems:  # raised inside: nothing of this transaction is kept
            raise InvalidValue("guest", str(report.problems[0]).removeprefix("line 1: "))
    verb = "added" if report.added else "updated" if report.updated else "already had"
    text = (
        f"<@{caller.member.slack_user_id}> {verb} {name} "
        f"in the guest list of {wedding.couple_names}."
    )
    if report.suppressed:
        text += " Their address is on the opt-out list, so they will not be messaged."
    if phone:
        text += " Texts go only to guests whose SMS consent is on record."
    await request.say(text)


def _contacts(words: list[str], country: str) -> tuple[str | None, str | None]:
    email = phone = None
    for word in words:
        cleaned = word.strip("<>").removeprefix("mailto:").split("|", 1)[0]
        try:
            if "@" in cleaned:
                if email is not None:
                    raise InvalidValue("email", "give one email address", ADD_EXAMPLE)
                email = normalise_email(cleaned)
            else:
                if phone is not None:
                    raise InvalidValue("phone", "give one phone number", ADD_EXAMPLE)
                phone = normalise_phone(cleaned, country)
        except AddressError as error:
            field = "email" if "@" in cleaned else "phone"
            raise InvalidValue(field, str(error), ADD_EXAMPLE) from None
    return email, phone


async def _wedding(
    request: CommandRequest, session: AsyncSession, reference: str | None
) -> Wedding:
    return await find_wedding(
        session, request.caller.organisation.id, reference, request.place.channel_id
    )

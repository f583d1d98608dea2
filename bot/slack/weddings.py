"""``wedding list|show|set``: the weddings of the caller's organisation and their details."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from sqlalchemy import func, select

from bot.slack.command_table import Command
from bot.slack.detail_changes import change_detail
from bot.slack.detail_fields import WEDDING_DETAILS, Detail, show
from bot.slack.errors import InvalidValue, UsageError
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from bot.slack.wedding_lookup import find_wedding, weddings_of
from store.models import Guest, Organisation, Wedding
from store.permissions import Action

SET_USAGE = "Usage: `/comms wedding set [wedding] <detail> <value>`, e.g. " + (
    '`/comms wedding set alex-and-sam venue "The Barn"`.'
)


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    add = wiring.table.add
    add(
        Command(
            ("wedding", "list"),
            "",
            "the weddings you plan, with dates and guest counts",
            "/comms wedding list",
            "Weddings",
            Action.READ,
            list_weddings,
        )
    )
    add(
        Command(
            ("wedding", "show"),
            "[wedding]",
            "every detail of a wedding that messages can use",
            "/comms wedding show alex-and-sam",
            "Weddings",
            Action.READ,
            show_wedding,
        )
    )
    add(
        Command(
            ("wedding", "set"),
            "[wedding] <detail> <value>",
            f"change a detail ({', '.join(WEDDING_DETAILS)}; `none` empties one)",
            '/comms wedding set alex-and-sam venue "The Barn"',
            "Weddings",
            Action.MANAGE_WEDDINGS,
            set_detail,
        )
    )


async def list_weddings(request: CommandRequest) -> None:
    organisation = request.caller.organisation
    async with request.services.database.reading() as session:
        weddings = await weddings_of(session, organisation.id)
        rows = await session.execute(
            select(Guest.wedding_id, func.count())
            .where(Guest.wedding_id.in_([w.id for w in weddings]))
            .group_by(Guest.wedding_id)
        )
        counts = {int(wedding_id): int(count) for wedding_id, count in rows}
    if not weddings:
        await request.say(f"{organisation.name} has no weddings yet.")
        return
    lines = [f"*Weddings of {organisation.name}* ({len(weddings)})"]
    for wedding in weddings:
        channel = f", channel <#{wedding.slack_channel_id}>" if wedding.slack_channel_id else ""
        lines.append(
            f"• `{wedding.slug}` — {wedding.couple_names}, {wedding.wedding_date.isoformat()} "
            f"at {wedding.venue_name or '(no venue yet)'}; {counts.get(wedding.id, 0)} guests"
            f"{channel}"
        )
    await request.say("\n".join(lines))


async def show_wedding(request: CommandRequest) -> None:
    reference = request.arguments[0] if request.arguments else None
    async with request.services.database.reading() as session:
        wedding = await find_wedding(
            session, request.caller.organisation.id, reference, request.place.channel_id
        )
    await request.say(wedding_text(wedding))


def wedding_text(wedding: Wedding) -> str:
    lines = [f"*{wedding.couple_names}* (`{wedding.slug}`)"]
    for detail in WEDDING_DETAILS.values():
        value = getattr(wedding, detail.attribute)
        shown = f"<#{value}>" if detail.name == "channel" and value else show(value)
        lines.append(f"• {detail.name}: {shown}")
    lines.append(f"Change one with `/comms wedding set {wedding.slug} <detail> <value>`.")
    return "\n".join(lines)


async def set_detail(request: CommandRequest) -> None:
    words = request.arguments
    if len(words) >= 2 and words[0].lower() in WEDDING_DETAILS:
        reference, name, typed = None, words[0].lower(), " ".join(words[1:])
    elif len(words) >= 3:
        reference, name, typed = words[0], words[1].lower(), " ".join(words[2:])
    else:
        raise UsageError(SET_USAGE)
    detail = WEDDING_DETAILS.get(name)
    if detail is None:
        raise UsageError(
            f"A wedding has no detail `{name}`. Details: {', '.join(WEDDING_DETAILS)}. " + SET_USAGE
        )
    caller = request.caller
    async with request.services.database.transaction() as session:
        wedding = await find_wedding(
            session, caller.organisation.id, reference, request.place.channel_id
        )
        organisation = await session.get(Organisation, wedding.organisation_id)
        country = organisation.default_country if organisation else "US"
        value = _read(detail, typed, country)
        _check_dates(wedding, detail, value)
        changed = await change_detail(session, caller.actor, wedding, detail, value)
    shown = f"<#{value}>" if detail.name == "channel" and value else show(value)
    if not changed:
        await request.tell(f"{wedding.couple_names}: {detail.name} was already {shown}.")
        return
    await request.say(
        f"<@{caller.member.slack_user_id}> set {detail.name} of {wedding.couple_names} to {shown}."
    )


def _read(detail: Detail, typed: str, country: str) -> object:
    try:
        return detail.parse(typed, country)
    except ValueError as error:
        raise InvalidValue(
            detail.name, str(error), f"/comms wedding set {detail.name} {detail.example}"
        ) from None


def _check_dates(wedding: Wedding, detail: Detail, value: object) -> None:
    """An RSVP deadline after the wedding would tell guests nonsense."""
    deadline = value if detail.attribute == "rsvp_deadline" else wedding.rsvp_deadline
    day = value if detail.attribute == "wedding_date" else wedding.wedding_date
    if deadline is not None and day is not None and deadline > day:  # type: ignore[operator]
        raise InvalidValue(
            detail.name,
            f"the RSVP deadline ({show(deadline)}) would fall after the wedding ({show(day)})",
        )

"""``org show|set``: the organisation's own settings an admin changes from Slack,
such as the number guests' texts arrive at (inbound texts are routed by it)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from sqlalchemy import select

from bot.slack.command_table import Command
from bot.slack.detail_changes import change_detail
from bot.slack.detail_fields import ORGANISATION_DETAILS, show
from bot.slack.errors import InvalidValue, UsageError
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from store.models import Organisation
from store.permissions import Action

SET_USAGE = (
    "Usage: `/comms org set <setting> <value>`, e.g. `/comms org set sms-number +12015550100`."
)
# Two organisations on one number or sender would route each other's replies.
_UNIQUE = frozenset({"sms_number"})


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    wiring.table.add(
        Command(
            ("org", "show"),
            "",
            "your organisation's settings (SMS number, sender, postal address)",
            "/comms org show",
            "Members",
            Action.READ,
            show_organisation,
        )
    )
    wiring.table.add(
        Command(
            ("org", "set"),
            "<setting> <value>",
            f"change a setting ({', '.join(ORGANISATION_DETAILS)})",
            "/comms org set sms-number +12015550100",
            "Members",
            Action.MANAGE_ORGANISATION,
            set_setting,
        )
    )


async def show_organisation(request: CommandRequest) -> None:
    async with request.services.database.reading() as session:
        organisation = await session.get(Organisation, request.caller.organisation.id)
    assert organisation is not None  # the caller was just resolved to it
    lines = [f"*{organisation.name}* (`{organisation.slug}`, {organisation.tier.value} tier)"]
    for detail in ORGANISATION_DETAILS.values():
        lines.append(f"• {detail.name}: {show(getattr(organisation, detail.attribute))}")
    lines.append("Admins change one with `/comms org set <setting> <value>`.")
    await request.say("\n".join(lines))


async def set_setting(request: CommandRequest) -> None:
    if len(request.arguments) < 2:
        raise UsageError(SET_USAGE)
    name, typed = request.arguments[0].lower(), " ".join(request.arguments[1:])
    detail = ORGANISATION_DETAILS.get(name)
    if detail is None:
        raise UsageError(
            f"There is no setting `{name}`. Settings: {', '.join(ORGANISATION_DETAILS)}. "
            + SET_USAGE
        )
    caller = request.caller
    async with request.services.database.transaction() as session:
        organisation = await session.get(Organisation, caller.organisation.id)
        assert organisation is not None
        try:
            value = detail.parse(typed, organisation.default_country)
        except ValueError as error:
            raise InvalidValue(
                detail.name, str(error), f"/comms org set {detail.name} {detail.example}"
            ) from None
        if detail.attribute in _UNIQUE and value is not None:
            column = getattr(Organisation, detail.attribute)
            taken = await session.scalar(
                select(Organisation.id).where(column == value, Organisation.id != organisation.id)
            )
            if taken is not None:
                raise InvalidValue(
                    detail.name,
                    f"{value} already belongs to another organisation; "
                    "each number can route texts to one organisation only",
                )
        changed = await change_detail(session, caller.actor, organisation, detail, value)
    if not changed:
        await request.tell(f"{detail.name} was already {show(value)}.")
        return
    await request.say(
        f"<@{caller.member.slack_user_id}> set {detail.name} of {organisation.name} "
        f"to {show(value)}."
    )

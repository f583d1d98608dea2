"""``/comms me``: your own member record, and the email and phone a campaign's
``test`` sends to.

Members come from Slack with no address of their own; the test step of every
campaign needs one. Each member keeps their own (nobody sets another's: the
test goes to whoever asked for it), written in the organisation's usual form
(a phone without +CC is read in its default country) and audited without the
values themselves.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.command_table import Command
from bot.slack.errors import InvalidValue, UsageError
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from store.addresses import AddressError, normalise_email, normalise_phone
from store.permissions import Action
from store.repositories.members import MemberRepository

EMAIL_EXAMPLE = "/comms me email pat@example.com"
PHONE_EXAMPLE = "/comms me phone +1 201 555 0100"
NONE = "none"


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    for words, arguments, summary, example, action, run in (
        (
            ("me",),
            "",
            "your role, and the email and phone your campaign tests go to",
            "/comms me",
            Action.READ,
            show_me,
        ),
        (
            ("me", "email"),
            "<address|none>",
            "the email address your campaign tests go to",
            EMAIL_EXAMPLE,
            Action.PLAN_CAMPAIGN,
            set_email,
        ),
        (
            ("me", "phone"),
            "<number|none>",
            "the phone number your campaign tests go to",
            PHONE_EXAMPLE,
            Action.PLAN_CAMPAIGN,
            set_phone,
        ),
    ):
        wiring.table.add(Command(words, arguments, summary, example, "Members", action, run))


async def show_me(request: CommandRequest) -> None:
    if request.arguments:
        raise UsageError(
            f"`/comms me` takes nothing more; to change your addresses use `{EMAIL_EXAMPLE}` "
            f"or `{PHONE_EXAMPLE}`."
        )
    caller = request.caller
    async with request.services.database.reading() as session:
        member = await MemberRepository(session).by_slack_user(
            caller.organisation.id, caller.member.slack_user_id
        )
    assert member is not None  # the caller was resolved from this row a moment ago
    await request.tell(
        "\n".join(
            [
                f"You are {member.role.value} of {caller.organisation.name}.",
                f"Campaign tests go to: email {member.email or 'none'}, "
                f"phone {member.phone or 'none'}.",
                f"Change them with `{EMAIL_EXAMPLE}` or `{PHONE_EXAMPLE}` (`none` removes one).",
            ]
        )
    )


async def set_email(request: CommandRequest) -> None:
    words = request.arguments
    if len(words) != 1:
        raise UsageError(f"Usage: `{EMAIL_EXAMPLE}` (or `none`).")
    raw = words[0].strip("<>").removeprefix("mailto:").split("|", 1)[0]
    try:
        email = None if raw.lower() == NONE else normalise_email(raw)
    except AddressError as error:
        raise InvalidValue("email", str(error), EMAIL_EXAMPLE) from None
    if email is not None and not email.isascii():
        # Valid, but email headers here carry ASCII addresses only: a test to it would fail.
        raise InvalidValue(
            "email",
            f"“{email}” has characters beyond ASCII, which guestcomms cannot send to",
            EMAIL_EXAMPLE,
        )
    await _keep(request, "email", email)


async def set_phone(request: CommandRequest) -> None:
    raw = " ".join(request.arguments)
    if not raw:
        raise UsageError(f"Usage: `{PHONE_EXAMPLE}` (or `none`).")
    try:
        phone = (
            None
            if raw.lower() == NONE
            else normalise_phone(raw, request.caller.organisation.default_country)
        )
    except AddressError as error:
        raise InvalidValue("phone", str(error), PHONE_EXAMPLE) from None
    await _keep(request, "phone", phone)


async def _keep(request: CommandRequest, field: str, value: str | None) -> None:
    caller = request.caller
    async with request.services.database.transaction() as session:
        members = MemberRepository(session)
        member = await members.by_slack_user(caller.organisation.id, caller.member.slack_user_id)
        assert member is not None
        email = value if field == "email" else member.email
        phone = value if field == "phone" else member.phone
        if (email, phone) == (member.email, member.phone):
            await request.tell(f"Your {field} is already {value or 'none'}; nothing changed.")
            return
        await members.set_contact(caller.actor, member, email=email, phone=phone)
    if value is None:
        await request.tell(f"Removed your {field}: campaign tests no longer go there.")
    else:
        await request.tell(f"Your campaign tests now go to {value} (your {field}).")

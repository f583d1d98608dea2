"""``roles`` and ``members``: who may use the bot for the organisation, and as what.

``/comms roles`` is the home of role changes: ``roles`` lists the members and
what each role may do, ``roles grant @jo approver`` gives a role (adding Jo
when Jo is not a member yet), ``roles revoke @jo`` takes Jo back to viewer —
Jo still reads, and changes nothing; taking access away entirely is
``members remove @jo``. The older ``members add|role|list`` run the same code.

Owners and admins change roles. Only an owner makes, changes or removes an
owner, and nobody removes or demotes the last owner: an organisation without
one could never manage itself again (the owners are counted under a row lock,
so two such changes at once cannot both pass). Every change is audited in its
own transaction.
"""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from bot.slack.access import Caller
from bot.slack.command_table import Command
from bot.slack.errors import InvalidValue, MembershipRefused, UsageError
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from store.enums import Role
from store.permissions import DOING, EVERYONE, Action, actions_of, roles_for
from store.repositories.members import MemberRepository
from store.repositories.organisations import OrganisationRepository

_MENTION = re.compile(r"^<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>$|^([UW][A-Z0-9_]+)$")
ROLES = ", ".join(role.value for role in Role)
GRANT_USAGE = "/comms roles grant @person approver"
REVOKE_USAGE = "/comms roles revoke @person"


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    for words, arguments, summary, example, action, run in (
        (
            ("roles",),
            "",
            "the members, their roles, and what each role may do",
            "/comms roles",
            Action.READ,
            list_roles,
        ),
        (
            ("roles", "grant"),
            "@person <role>",
            f"give someone a role ({ROLES}), adding them if they are new",
            "/comms roles grant @jo approver",
            Action.MANAGE_ROLES,
            grant_role,
        ),
        (
            ("roles", "revoke"),
            "@person",
            "take someone back to viewer (they still read, and change nothing)",
            "/comms roles revoke @jo",
            Action.MANAGE_ROLES,
            revoke_role,
        ),
        (
            ("members", "list"),
            "",
            "who may use guestcomms here, with their roles",
            "/comms members list",
            Action.READ,
            list_roles,
        ),
        (
            ("members", "add"),
            "@person <role>",
            f"let someone use guestcomms ({ROLES})",
            "/comms members add @jo planner",
            Action.MANAGE_ROLES,
            add_member,
        ),
        (
            ("members", "role"),
            "@person <role>",
            "change someone's role (the same as `roles grant`)",
            "/comms members role @jo approver",
            Action.MANAGE_ROLES,
            change_role,
        ),
        (
            ("members", "remove"),
            "@person",
            "stop someone using guestcomms",
            "/comms members remove @jo",
            Action.MANAGE_ROLES,
            remove_member,
        ),
    ):
        wiring.table.add(Command(words, arguments, summary, example, "Members", action, run))


def role_summary() -> list[str]:
    """What each role may do, in words, from the permission table."""
    limited = [action for action in Action if roles_for(action) != EVERYONE]
    everyone = [DOING[action] for action in Action if action not in limited]
    lines = ["*What each role may do*", f"• every member: {'; '.join(everyone)}"]
    for role in Role:
        extra = [DOING[action] for action in actions_of(role) if action in limited]
        if len(extra) == len(limited):
            lines.append(f"• {role.value}: everything")
        elif extra:
            lines.append(f"• {role.value}: also {'; '.join(extra)}")
        else:
            lines.append(f"• {role.value}: nothing more (reads only)")
    return lines


async def list_roles(request: CommandRequest) -> None:
    if request.arguments:
        raise UsageError(
            f"`/comms roles` takes nothing more; to change a role use `{GRANT_USAGE}` "
            f"or `{REVOKE_USAGE}`."
        )
    organisation = request.caller.organisation
    async with request.services.database.reading() as session:
        members = await MemberRepository(session).all(organisation.id)
    lines = [f"*Members of {organisation.name}* ({len(members)})"]
    lines += [f"• <@{member.slack_user_id}> — {member.role.value}" for member in members]
    lines += ["", *role_summary()]
    lines.append(
        f"Owners and admins change roles with `{GRANT_USAGE}` and `{REVOKE_USAGE}`; "
        "`/comms members remove @person` takes access away."
    )
    await request.say("\n".join(lines))


def _person(word: str, usage: str) -> str:
    found = _MENTION.match(word)
    if not found:
        raise InvalidValue("person", f"“{word}” is not a mention; type @ and pick them", usage)
    return found.group(1) or found.group(2)


def _role(word: str, usage: str) -> Role:
    try:
        return Role(word.lower())
    except ValueError:
        raise InvalidValue("role", f"“{word}” is not a role; roles are {ROLES}", usage) from None


def _arguments(request: CommandRequest, usage: str) -> tuple[str, Role]:
    if len(request.arguments) != 2:
        raise UsageError(f"Usage: `{usage}`.")
    return _person(request.arguments[0], usage), _role(request.arguments[1], usage)


def _may_touch_owner(caller: Caller, doing: str) -> None:
    if caller.role != Role.OWNER:
        raise MembershipRefused(f"Only an owner can {doing}; you are an {caller.role.value}.")


async def grant_role(request: CommandRequest) -> None:
    user_id, role = _arguments(request, GRANT_USAGE)
    await _set_role(request, user_id, role, adding=True, changing=True)


async def add_member(request: CommandRequest) -> None:
    user_id, role = _arguments(request, "/comms members add @person planner")
    await _set_role(request, user_id, role, adding=True, changing=False)


async def change_role(request: CommandRequest) -> None:
    user_id, role = _arguments(request, "/comms members role @person approver")
    await _set_role(request, user_id, role, adding=False, changing=True)


async def revoke_role(request: CommandRequest) -> None:
    if len(request.arguments) != 1:
        raise UsageError(f"Usage: `{REVOKE_USAGE}`.")
    user_id = _person(request.arguments[0], REVOKE_USAGE)
    await _set_role(request, user_id, Role.VIEWER, adding=False, changing=True)


async def _set_role(
    request: CommandRequest, user_id: str, role: Role, *, adding: bool, changing: bool
) -> None:
    """The one path of every role change: a new member (``adding``) or a new role for
    one (``changing``), with the owner rules, audited in the same transaction."""
    caller = request.caller
    async with request.services.database.transaction() as session:
        members = MemberRepository(session)
        member = await members.by_slack_user(caller.organisation.id, user_id)
        if member is None and not adding:
            raise _not_a_member(caller, user_id)
        if member is not None and not changing:
            raise MembershipRefused(
                f"<@{user_id}> is already a member ({member.role.value}); change the role "
                f"with `/comms roles grant <@{user_id}> {role.value}`."
            )
        if member is None:
            if role == Role.OWNER:
                _may_touch_owner(caller, "make someone an owner")
            await OrganisationRepository(session).add_member(
                caller.actor, caller.organisation.id, slack_user_id=user_id, role=role
            )
            outcome = f"added <@{user_id}> as {role.value} of {caller.organisation.name}."
        else:
            if member.role == role:
                note = (
                    f" To take access away entirely: `/comms members remove <@{user_id}>`."
                    if role == Role.VIEWER
                    else ""
                )
                await request.tell(f"<@{user_id}> is already {role.value}; nothing changed.{note}")
                return
            if Role.OWNER in (member.role, role):
                _may_touch_owner(caller, "make or unmake an owner")
            if member.role == Role.OWNER and await members.owner_count(caller.organisation.id) <= 1:
                raise MembershipRefused(
                    f"<@{user_id}> is the only owner; make someone else an owner first."
                )
            before = member.role
            await members.change_role(caller.actor, member, role)
            outcome = f"changed <@{user_id}> from {before.value} to {role.value}."
            if role == Role.VIEWER:
                outcome += " They can still read, and change nothing."
    await request.say(f"<@{caller.member.slack_user_id}> {outcome}")


async def remove_member(request: CommandRequest) -> None:
    usage = "/comms members remove @person"
    if len(request.arguments) != 1:
        raise UsageError(f"Usage: `{usage}`.")
    user_id = _person(request.arguments[0], usage)
    caller = request.caller
    async with request.services.database.transaction() as session:
        members = MemberRepository(session)
        member = await members.by_slack_user(caller.organisation.id, user_id)
        if member is None:
            raise _not_a_member(caller, user_id)
        if member.role == Role.OWNER:
            _may_touch_owner(caller, "remove an owner")
            if await members.owner_count(caller.organisation.id) <= 1:
                raise MembershipRefused(
                    f"<@{user_id}> is the only owner; make someone else an owner first."
                )
        await members.remove(caller.actor, member)
    await request.say(
        f"<@{caller.member.slack_user_id}> removed <@{user_id}> from {caller.organisation.name}."
    )


def _not_a_member(caller: Caller, user_id: str) -> MembershipRefused:
    return MembershipRefused(
        f"<@{user_id}> is not a member of {caller.organisation.name}; "
        f"add them with `/comms roles grant <@{user_id}> planner`."
    )

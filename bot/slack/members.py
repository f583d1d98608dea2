"""``members list|add|remove|role``: who may use the bot for the organisation, and as what.

Owners and admins manage members. Only an owner makes, changes or removes
an owner, and nobody removes or demotes the last owner: an organisation
without one could never manage itself again.
"""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from bot.slack.access import ADMINISTER, READ, Caller
from bot.slack.command_table import Command
from bot.slack.errors import InvalidValue, MembershipRefused, UsageError
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from store.enums import Role
from store.models import Member
from store.repositories.members import MemberRepository
from store.repositories.organisations import OrganisationRepository

_MENTION = re.compile(r"^<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>$|^([UW][A-Z0-9_]+)$")
ROLES = ", ".join(role.value for role in Role)


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    for command in (
        Command(
            ("members", "list"),
            "",
            "who may use guestcomms here, with their roles",
            "/comms members list",
            "Members",
            READ,
            "see the members",
            list_members,
        ),
        Command(
            ("members", "add"),
            "@person <role>",
            f"let someone use guestcomms ({ROLES})",
            "/comms members add @jo planner",
            "Members",
            ADMINISTER,
            "add members",
            add_member,
        ),
        Command(
            ("members", "role"),
            "@person <role>",
            "change someone's role",
            "/comms members role @jo approver",
            "Members",
            ADMINISTER,
            "change members' roles",
            change_role,
        ),
        Command(
            ("members", "remove"),
            "@person",
            "stop someone using guestcomms",
            "/comms members remove @jo",
            "Members",
            ADMINISTER,
            "remove members",
            remove_member,
        ),
    ):
        wiring.table.add(command)


async def list_members(request: CommandRequest) -> None:
    organisation = request.caller.organisation
    async with request.services.database.reading() as session:
        members = await MemberRepository(session).all(organisation.id)
    lines = [f"*Members of {organisation.name}* ({len(members)})"]
    lines += [f"• <@{member.slack_user_id}> — {member.role.value}" for member in members]
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


async def add_member(request: CommandRequest) -> None:
    user_id, role = _arguments(request, "/comms members add @person planner")
    caller = request.caller
    if role == Role.OWNER:
        _may_touch_owner(caller, "make someone an owner")
    async with request.services.database.transaction() as session:
        existing = await MemberRepository(session).by_slack_user(caller.organisation.id, user_id)
        if existing is not None:
            raise MembershipRefused(
                f"<@{user_id}> is already a member ({existing.role.value}); change the role "
                f"with `/comms members role <@{user_id}> {role.value}`."
            )
        await OrganisationRepository(session).add_member(
            caller.actor, caller.organisation.id, slack_user_id=user_id, role=role
        )
    await request.say(
        f"<@{caller.member.slack_user_id}> added <@{user_id}> as {role.value} of "
        f"{caller.organisation.name}."
    )


async def change_role(request: CommandRequest) -> None:
    user_id, role = _arguments(request, "/comms members role @person approver")
    caller = request.caller
    async with request.services.database.transaction() as session:
        members = MemberRepository(session)
        member = await _existing(members, caller, user_id)
        if member.role == role:
            await request.tell(f"<@{user_id}> is already {role.value}.")
            return
        if Role.OWNER in (member.role, role):
            _may_touch_owner(caller, "make or unmake an owner")
        if member.role == Role.OWNER and await members.owner_count(caller.organisation.id) <= 1:
            raise MembershipRefused(
                f"<@{user_id}> is the only owner; make someone else an owner first."
            )
        before = member.role
        await members.change_role(caller.actor, member, role)
    await request.say(
        f"<@{caller.member.slack_user_id}> changed <@{user_id}> from {before.value} "
        f"to {role.value}."
    )


async def remove_member(request: CommandRequest) -> None:
    usage = "/comms members remove @person"
    if len(request.arguments) != 1:
        raise UsageError(f"Usage: `{usage}`.")
    user_id = _person(request.arguments[0], usage)
    caller = request.caller
    async with request.services.database.transaction() as session:
        members = MemberRepository(session)
        member = await _existing(members, caller, user_id)
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


async def _existing(members: MemberRepository, caller: Caller, user_id: str) -> Member:
    member = await members.by_slack_user(caller.organisation.id, user_id)
    if member is None:
        raise MembershipRefused(
            f"<@{user_id}> is not a member of {caller.organisation.name}; "
            f"add them with `/comms members add <@{user_id}> planner`."
        )
    return member

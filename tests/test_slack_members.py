"""``members list|add|role|remove`` through ``POST /slack/events``: admins manage members,
only owners touch owners, and the last owner stays."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from store.database import Database
from store.enums import Role
from store.models import AuditEntry, Member
from tests.dispatch_harness import midday_clock
from tests.slack_harness import SlackBot, running_bot


async def _roles(bot: SlackBot) -> dict[str, Role]:
    async with bot.database.reading() as session:
        rows = await session.execute(select(Member.slack_user_id, Member.role))
        return {user: Role(role) for user, role in rows}


async def _actions(bot: SlackBot) -> list[str]:
    async with bot.database.reading() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor.like("slack:%"))
        )
        return [action for action in rows if action.startswith("member.")]


async def test_an_owner_adds_changes_and_removes_a_member(
    database: Database, tmp_path: Path
) -> None:
    url = database.url.render_as_string(hide_password=False)
    async with running_bot(database, url, tmp_path, midday_clock()) as bot:
        await bot.command("members add <@U_NEWBIE|newbie> planner", user="U_OWNER")
        await bot.said("added <@U_NEWBIE> as planner")
        await bot.command("help", user="U_NEWBIE")  # the newcomer can now use the bot
        await bot.said("Example:")
        await bot.command("members role <@U_NEWBIE> approver", user="U_OWNER")
        await bot.said("changed <@U_NEWBIE> from planner to approver")
        await bot.command("members list", user="U_VIEWER")
        listed = await bot.said("Members of")
        assert "<@U_NEWBIE> — approver" in listed["text"]
        await bot.command("members remove <@U_NEWBIE>", user="U_OWNER")
        await bot.said("removed <@U_NEWBIE>")
        assert "U_NEWBIE" not in await _roles(bot)
        assert await _actions(bot) == [
            "member.role_granted",
            "member.role_changed",
            "member.removed",
        ]


async def test_members_add_needs_an_admin(bot: SlackBot) -> None:
    await bot.command("members add <@U_NEWBIE> planner", user="U_PLANNER")
    told = await bot.told(
        "To add, remove or change members' roles you need the owner or admin role", user="U_PLANNER"
    )
    assert "you are a planner" in told
    await bot.command("members add <@U_NEWBIE> planner", user="U_APPROVER")
    told = await bot.told(
        "To add, remove or change members' roles you need the owner or admin role",
        user="U_APPROVER",
    )
    assert "you are an approver" in told
    assert "U_NEWBIE" not in await _roles(bot)


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("members add <@U_NEWBIE> boss", "I could not use that role: “boss” is not a role"),
        ("members add newbie planner", "I could not use that person"),
        ("members add <@U_PLANNER> viewer", "is already a member (planner)"),
        ("members remove <@U_NOBODY>", "is not a member of"),
    ],
)
async def test_bad_member_commands_are_explained(bot: SlackBot, typed: str, fragment: str) -> None:
    before = await _roles(bot)
    await bot.command(typed, user="U_OWNER")
    await bot.told(fragment, user="U_OWNER")
    assert await _roles(bot) == before
    assert await _actions(bot) == []


async def test_an_admin_cannot_remove_or_make_an_owner(bot: SlackBot) -> None:
    await bot.command("members add <@U_ADMIN> admin", user="U_OWNER")
    await bot.said("added <@U_ADMIN> as admin")
    await bot.command("members remove <@U_OWNER>", user="U_ADMIN")
    await bot.told("Only an owner can remove an owner", user="U_ADMIN")
    await bot.command("members role <@U_PLANNER> owner", user="U_ADMIN")
    await bot.told("Only an owner can make or unmake an owner", user="U_ADMIN")
    roles = await _roles(bot)
    assert (roles["U_OWNER"], roles["U_PLANNER"]) == (Role.OWNER, Role.PLANNER)


async def test_nobody_removes_or_demotes_the_last_owner(bot: SlackBot) -> None:
    await bot.command("members remove <@U_OWNER>", user="U_OWNER")
    await bot.told("is the only owner", user="U_OWNER")
    await bot.command("members role <@U_OWNER> admin", user="U_OWNER")
    await bot.wait_for(lambda: len(bot.fake.ephemerals("U_OWNER")) == 2)
    assert (await _roles(bot))["U_OWNER"] == Role.OWNER
    # With a second owner, the first may step down.
    await bot.command("members role <@U_PLANNER> owner", user="U_OWNER")
    await bot.said("changed <@U_PLANNER> from planner to owner")
    await bot.command("members role <@U_OWNER> admin", user="U_OWNER")
    await bot.said("changed <@U_OWNER> from owner to admin")

"""``/comms roles``: the home of role changes — list, grant, revoke — each audited in the
same transaction, with the owner rules of ``members`` (which run the same code)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from store.enums import Role
from store.models import AuditEntry, Member
from tests.dispatch_harness import Backend, midday_clock
from tests.slack_harness import SlackBot, running_bot


@pytest.fixture
async def bot(backend: Backend, tmp_path: Path) -> AsyncIterator[SlackBot]:
    """SQLite, and PostgreSQL with Redis (where the owners are counted under a row lock)."""
    async with running_bot(
        backend.database, backend.url, tmp_path, midday_clock(), backend.redis_url
    ) as b:
        yield b


async def _roles(bot: SlackBot) -> dict[str, Role]:
    async with bot.database.reading() as session:
        rows = await session.execute(select(Member.slack_user_id, Member.role))
        return {user: Role(role) for user, role in rows}


async def _member_rows(bot: SlackBot) -> list[tuple[str, str, object, object, str | None]]:
    async with bot.database.reading() as session:
        rows = await session.execute(
            select(
                AuditEntry.actor,
                AuditEntry.action,
                AuditEntry.before,
                AuditEntry.after,
                AuditEntry.request_id,
            )
            .where(AuditEntry.entity_type == "member", AuditEntry.actor.like("slack:%"))
            .order_by(AuditEntry.id)
        )
        return [(actor, action, old, new, request) for actor, action, old, new, request in rows]


async def test_roles_lists_members_and_what_each_role_may_do(bot: SlackBot) -> None:
    await bot.command("roles", user="U_VIEWER")
    listed = (await bot.said("Members of Evergreen Weddings"))["text"]
    assert "<@U_APPROVER> — approver" in listed
    assert "• owner: everything" in listed
    assert "• admin: everything" in listed
    planner = next(line for line in listed.splitlines() if line.startswith("• planner:"))
    assert "prepare, test, schedule, pause, cancel or delete campaigns" in planner
    assert "approve" not in planner
    approver = next(line for line in listed.splitlines() if line.startswith("• approver:"))
    assert approver == "• approver: also approve or reject a campaign"
    assert "• viewer: nothing more (reads only)" in listed
    assert "`/comms roles grant @person approver`" in listed


async def test_grant_adds_or_changes_and_revoke_goes_back_to_viewer(bot: SlackBot) -> None:
    granted = await bot.command("roles grant <@U_JO|jo> planner", user="U_OWNER")
    await bot.said("<@U_OWNER> added <@U_JO> as planner of Evergreen Weddings")
    changed = await bot.command("roles grant <@U_JO> approver", user="U_OWNER")
    await bot.said("changed <@U_JO> from planner to approver")
    revoked = await bot.command("roles revoke <@U_JO>", user="U_OWNER")
    await bot.said("changed <@U_JO> from approver to viewer. They can still read")
    assert (await _roles(bot))["U_JO"] == Role.VIEWER

    await bot.command("help", user="U_JO")  # a viewer still uses the bot
    await bot.said("Example:")
    await bot.command("roles revoke <@U_JO>", user="U_OWNER")
    told = await bot.told("<@U_JO> is already viewer; nothing changed.", user="U_OWNER")
    assert "`/comms members remove <@U_JO>`" in told

    ids = [r.headers["X-Request-ID"] for r in (granted, changed, revoked)]
    assert await _member_rows(bot) == [
        (
            "slack:U_OWNER",
            "member.role_granted",
            None,
            {"slack_user_id": "U_JO", "role": "planner"},
            ids[0],
        ),
        (
            "slack:U_OWNER",
            "member.role_changed",
            {"slack_user_id": "U_JO", "role": "planner"},
            {"slack_user_id": "U_JO", "role": "approver"},
            ids[1],
        ),
        (
            "slack:U_OWNER",
            "member.role_changed",
            {"slack_user_id": "U_JO", "role": "approver"},
            {"slack_user_id": "U_JO", "role": "viewer"},
            ids[2],
        ),
    ]


async def test_the_owner_rules_hold_for_roles_too(bot: SlackBot) -> None:
    await bot.command("roles grant <@U_ADMIN> admin", user="U_OWNER")
    await bot.said("added <@U_ADMIN> as admin")
    before = await _roles(bot)
    rows = await _member_rows(bot)

    await bot.command("roles grant <@U_PLANNER> owner", user="U_ADMIN")
    await bot.told("Only an owner can make or unmake an owner", user="U_ADMIN")
    await bot.command("roles revoke <@U_OWNER>", user="U_ADMIN")
    await bot.wait_for(lambda: len(bot.fake.ephemerals("U_ADMIN")) == 2)
    assert "Only an owner can make or unmake an owner" in bot.fake.ephemerals("U_ADMIN")[1]
    await bot.command("roles revoke <@U_OWNER>", user="U_OWNER")
    await bot.told(
        "<@U_OWNER> is the only owner; make someone else an owner first.", user="U_OWNER"
    )
    await bot.command("roles grant <@U_NEW> owner", user="U_ADMIN")
    await bot.wait_for(lambda: len(bot.fake.ephemerals("U_ADMIN")) == 3)
    assert "Only an owner can make someone an owner" in bot.fake.ephemerals("U_ADMIN")[2]

    assert await _roles(bot) == before
    assert await _member_rows(bot) == rows


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("roles grant <@U_JO>", "Usage: `/comms roles grant @person approver`."),
        ("roles grant <@U_JO> boss", "I could not use that role: “boss” is not a role"),
        ("roles grant jo planner", "I could not use that person"),
        ("roles revoke", "Usage: `/comms roles revoke @person`."),
        ("roles revoke <@U_NOBODY>", "is not a member of Evergreen Weddings"),
        ("roles everyone", "`/comms roles` takes nothing more"),
        ("members add <@U_PLANNER> viewer", "change the role with `/comms roles grant"),
    ],
)
async def test_bad_role_commands_are_explained_and_change_nothing(
    bot: SlackBot, typed: str, fragment: str
) -> None:
    before = await _roles(bot)
    await bot.command(typed, user="U_OWNER")
    await bot.told(fragment, user="U_OWNER")
    assert await _roles(bot) == before
    assert await _member_rows(bot) == []

"""``/comms me`` through ``POST /slack/events``: each member keeps the email and phone
their campaign tests go to — read in the organisation's form, refused with the field
named when unreadable, audited without the values."""

from __future__ import annotations

from sqlalchemy import select

from store.models import AuditEntry, Member
from tests.slack_harness import SlackBot


async def _contact(bot: SlackBot, user: str) -> tuple[str | None, str | None]:
    async with bot.database.reading() as session:
        member = await session.scalar(select(Member).where(Member.slack_user_id == user))
    assert member is not None
    return member.email, member.phone


async def _audited(bot: SlackBot) -> list[AuditEntry]:
    async with bot.database.reading() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "member.contact_changed")
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def test_a_planner_keeps_their_own_phone_and_email(bot: SlackBot) -> None:
    email, _ = await _contact(bot, "U_PLANNER")
    await bot.command("me")
    shown = await bot.told("Campaign tests go to")
    assert "You are planner of" in shown
    assert f"email {email}" in shown
    assert "phone none" in shown

    # A national number is read in the organisation's country (US in the demo).
    await bot.command("me phone (201) 555-0188")
    await bot.told("Your campaign tests now go to +12015550188 (your phone)")
    assert await _contact(bot, "U_PLANNER") == (email, "+12015550188")

    await bot.command("me email none")
    await bot.told("Removed your email")
    assert await _contact(bot, "U_PLANNER") == (None, "+12015550188")
    await bot.command("me email none")
    await bot.told("Your email is already none; nothing changed")

    audited = await _audited(bot)
    assert len(audited) == 2
    # The log says the addresses changed, never what they hold.
    assert audited[0].actor == "slack:U_PLANNER"
    assert audited[0].before is not None
    assert audited[0].after is not None
    assert audited[0].after["phone"] == "[redacted]"
    assert "0188" not in str([(a.before, a.after) for a in audited])


async def test_an_unreadable_address_is_named_and_changes_nothing(bot: SlackBot) -> None:
    before = await _contact(bot, "U_PLANNER")
    await bot.command("me email pat@@example")
    told = await bot.told("email")
    assert "pat@@example" in told
    assert "/comms me email pat@example.com" in told
    await bot.command("me email josé@example.com")
    assert "beyond ASCII" in await bot.told("josé@example.com")
    await bot.command("me phone 12")
    assert "12" in await bot.told("phone")
    await bot.command("me phone")
    await bot.told("Usage: `/comms me phone +1 201 555 0100`")
    assert await _contact(bot, "U_PLANNER") == before
    assert await _audited(bot) == []


async def test_a_viewer_sees_their_record_and_changes_nothing(bot: SlackBot) -> None:
    before = await _contact(bot, "U_VIEWER")
    await bot.command("me", user="U_VIEWER")
    await bot.told("You are viewer of", user="U_VIEWER")
    await bot.command("me phone +12015550199", user="U_VIEWER")
    await bot.told("you need", user="U_VIEWER")
    assert await _contact(bot, "U_VIEWER") == before

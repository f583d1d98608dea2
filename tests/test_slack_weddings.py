"""``wedding list|show|set`` and ``org show|set`` through ``POST /slack/events``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from store.database import Database
from store.models import AuditEntry, Organisation, Wedding
from tests.dispatch_harness import midday_clock
from tests.slack_harness import SlackBot, running_bot


async def _wedding(bot: SlackBot) -> Wedding:
    async with bot.database.reading() as session:
        wedding: Wedding | None = await session.scalar(select(Wedding))
    assert wedding is not None
    return wedding


async def _audit(bot: SlackBot, action: str) -> list[AuditEntry]:
    async with bot.database.reading() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_wedding_list_and_show(bot: SlackBot) -> None:
    await bot.command("wedding list", user="U_VIEWER")
    listed = await bot.said("Weddings of")
    assert "`alex-and-sam`" in listed["text"]
    assert "40 guests" in listed["text"]
    await bot.command("wedding show alex-and-sam", user="U_VIEWER")
    shown = await bot.said("rsvp-deadline:")
    assert "timezone: America/New_York" in shown["text"]


async def test_wedding_set_changes_a_detail_with_an_audit_row(
    database: Database, tmp_path: Path
) -> None:
    url = database.url.render_as_string(hide_password=False)
    async with running_bot(database, url, tmp_path, midday_clock()) as bot:
        await bot.command('wedding set alex-and-sam venue "The Barn"')
        await bot.said("set venue of Alex & Sam to The Barn")
        await bot.command("wedding set channel <#C0WEDDING|alex-and-sam>")
        await bot.said("set channel of Alex & Sam to <#C0WEDDING>")
        await bot.command("wedding set alex-and-sam rsvp-deadline 2000-01-01")
        await bot.said("set rsvp-deadline of Alex & Sam to 2000-01-01")
        wedding = await _wedding(bot)
        assert wedding.venue_name == "The Barn"
        assert wedding.slack_channel_id == "C0WEDDING"
        audits = await _audit(bot, "wedding.updated")
        assert {"venue_name": "The Barn"} in [a.after for a in audits]
        assert all(a.actor == "slack:U_PLANNER" for a in audits)


@pytest.mark.parametrize(
    ("typed", "field", "reason"),
    [
        ("rsvp-deadline 2027-13-45", "rsvp-deadline", "YYYY-MM-DD"),
        ("timezone Mars/Olympus", "timezone", "not a time zone"),
        ("channel #weddings", "channel", "pick it from Slack's list"),
        ("rsvp-link javascript:alert(1)", "rsvp-link", "https://"),
        ("venue none", "venue", "cannot be empty"),
        ("rsvp-deadline 2099-01-01", "rsvp-deadline", "after the wedding"),
    ],
)
async def test_wedding_set_refuses_bad_values_naming_the_field(
    bot: SlackBot, typed: str, field: str, reason: str
) -> None:
    before = await _wedding(bot)
    await bot.command(f"wedding set alex-and-sam {typed}")
    told = await bot.told("Nothing was changed", user="U_PLANNER")
    assert told.startswith(f"I could not use that {field}:")
    assert reason in told
    after = await _wedding(bot)
    assert (after.venue_name, after.rsvp_deadline, after.timezone, after.slack_channel_id) == (
        before.venue_name,
        before.rsvp_deadline,
        before.timezone,
        before.slack_channel_id,
    )
    assert await _audit(bot, "wedding.updated") == []


async def test_wedding_set_needs_the_planner_role(bot: SlackBot) -> None:
    await bot.command('wedding set venue "The Barn"', user="U_VIEWER")
    told = await bot.told("To change a wedding's details you need", user="U_VIEWER")
    assert "planner" in told
    assert (await _wedding(bot)).venue_name != "The Barn"


async def test_unknown_wedding_and_unknown_detail_are_named(bot: SlackBot) -> None:
    await bot.command('wedding set jo-and-kim venue "The Barn"')
    await bot.told("Wedding 'jo-and-kim' was not found")
    await bot.command("wedding set alex-and-sam colour blue")
    await bot.told("A wedding has no detail `colour`")


async def test_org_set_sms_number_is_validated_and_audited(bot: SlackBot) -> None:
    await bot.command("org set sms-number 555", user="U_OWNER")
    told = await bot.told("Nothing was changed", user="U_OWNER")
    assert told.startswith("I could not use that sms-number:")
    await bot.command("org set sms-number +1 (201) 555-0188", user="U_OWNER")
    await bot.said("set sms-number of")
    async with bot.database.reading() as session:
        number = await session.scalar(select(Organisation.sms_number))
    assert number == "+12015550188"
    [entry] = await _audit(bot, "organisation.updated")
    assert entry.after == {"sms_number": "+12015550188"}


async def test_org_set_needs_an_admin(bot: SlackBot) -> None:
    await bot.command("org set sms-number +12015550100", user="U_PLANNER")
    told = await bot.told("To change the organisation's settings you need", user="U_PLANNER")
    assert "owner or admin" in told
    await bot.command("org show", user="U_PLANNER")
    await bot.said("sms-number:")

"""``guests add|list|count|export|import`` through ``POST /slack/events``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.database import Database
from store.models import AuditEntry, Guest, GuestGroup
from tests.dispatch_harness import midday_clock
from tests.slack_harness import SlackBot, running_bot

BAD_ROW_CSV = (
    b"name,email,phone,rsvp_status\n"
    b"Jo Bloggs,jo@example.com,+12015550177,pending\n"
    b"Kim Lee,not-an-email,,confirmed\n"
    b"Maria Alvarez,maria.alvarez@example.com,,confirmed\n"
)


async def _guest_count(bot: SlackBot) -> int:
    async with bot.database.reading() as session:
        return await session.scalar(select(func.count()).select_from(Guest)) or 0


async def test_a_shared_csv_is_imported_with_counts_and_each_bad_row(
    database: Database, tmp_path: Path
) -> None:
    url = database.url.render_as_string(hide_password=False)
    async with running_bot(database, url, tmp_path, midday_clock()) as bot:
        shared = bot.fake.share_file("F_LIST", "guests.csv", BAD_ROW_CSV, bot.fake_url)
        await bot.message("comms guests import", files=[shared])
        report = await bot.said("Imported guests.csv into Alex & Sam")
        assert "1 added, 0 updated, 1 unchanged, 1 row with problems" in report["text"]
        assert "line 3, email:" in report["text"]
        assert await _guest_count(bot) == 41
        # The file was fetched through files.info, with the bot token.
        assert [p["file"] for p in bot.fake.payloads("files.info")] == ["F_LIST"]
        async with bot.database.reading() as session:
            imported = await session.scalar(
                select(AuditEntry.after).where(
                    AuditEntry.action == "guestlist.imported", AuditEntry.actor == "slack:U_PLANNER"
                )
            )
        assert imported == {"added": 1, "updated": 0, "unchanged": 1, "problem_rows": 1}


async def test_a_file_on_a_foreign_host_is_not_downloaded(bot: SlackBot) -> None:
    shared = bot.fake.share_file(
        "F_EVIL",
        "guests.csv",
        BAD_ROW_CSV,
        bot.fake_url,
        download_url="https://files.example.net/steal-the-token/guests.csv",
    )
    await bot.message("comms guests import", files=[shared], thread_ts="1700000000.000001")
    told = await bot.told("I did not download guests.csv", user="U_PLANNER")
    assert "files.example.net" in told
    assert "not Slack's file host" in told
    assert await _guest_count(bot) == 40


async def test_import_without_a_file_says_how(bot: SlackBot) -> None:
    await bot.command("guests import")
    await bot.told("I found no file to import")


async def test_import_needs_the_planner_role(bot: SlackBot) -> None:
    shared = bot.fake.share_file("F_LIST", "guests.csv", BAD_ROW_CSV, bot.fake_url)
    await bot.message("comms guests import", files=[shared], user="U_VIEWER")
    told = await bot.told("To add or import guests you need", user="U_VIEWER")
    assert "planner" in told
    assert bot.fake.payloads("files.info") == []


async def test_guests_add_then_list_and_count(bot: SlackBot) -> None:
    await bot.command('guests add "Jo Bloggs" jo@example.com +12015550177 --group family')
    await bot.said("added Jo Bloggs in the guest list of Alex & Sam")
    async with bot.database.reading() as session:
        # Names are encrypted: found in Python, as the bot itself does.
        jo = next(g for g in await session.scalars(select(Guest)) if g.name == "Jo Bloggs")
        group = await session.scalar(select(GuestGroup.name).where(GuestGroup.guest_id == jo.id))
    assert (jo.email, jo.phone, group) == ("jo@example.com", "+12015550177", "family")

    await bot.command("guests list group=family", user="U_VIEWER")
    listed = await bot.said("group is family:")
    assert "• Jo Bloggs — pending, party of 1, family; email and SMS" in listed["text"]
    assert "jo@example.com" not in listed["text"]

    await bot.command("guests count channel=sms", user="U_VIEWER")
    counted = await bot.said("channel is sms:")
    assert "opted out (stop 1)" in counted["text"]
    assert "without SMS consent on record" in counted["text"]


@pytest.mark.parametrize(
    ("typed", "field"),
    [
        ('"Jo Bloggs" jo@@example', "email"),
        ('"Jo Bloggs" 12', "phone"),
        ("", ""),
    ],
)
async def test_guests_add_refuses_bad_input_naming_the_field(
    bot: SlackBot, typed: str, field: str
) -> None:
    await bot.command(f"guests add {typed}")
    told = await bot.told(f"I could not use that {field}" if field else "Usage:")
    assert "guests add" in told
    # One full stop per sentence, and the example as one piece of code.
    assert ".." not in told
    if field:
        assert told.endswith(
            "For example: "
            '`/comms guests add "Jo Bloggs" jo@example.com +12015550177 --group family`'
        )
    assert await _guest_count(bot) == 40


async def test_guests_add_needs_the_planner_role(bot: SlackBot) -> None:
    await bot.command('guests add "Jo Bloggs" jo@example.com', user="U_APPROVER")
    await bot.told("To add or import guests you need", user="U_APPROVER")
    assert await _guest_count(bot) == 40


async def test_a_bad_segment_is_explained(bot: SlackBot) -> None:
    await bot.command("guests count rsvp=maybe")
    told = await bot.told("“maybe” is not a value of rsvp")
    assert "pending" in told


async def test_export_uploads_a_csv_that_imports_back(bot: SlackBot) -> None:
    await bot.command("guests export rsvp=confirmed")
    shared = await bot.said("guests as a CSV file")
    assert shared["files"]
    [upload] = bot.fake.uploads.values()
    assert upload["name"] == "alex-and-sam-guests.csv"
    lines = upload["content"].decode().splitlines()
    assert lines[0].startswith("name,email,phone,rsvp_status")
    assert all(",confirmed," in line for line in lines[1:])
    assert str(len(lines) - 1) + " guests" in shared["text"]

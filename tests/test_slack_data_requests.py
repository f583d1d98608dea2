"""Data requests and SMS consent from Slack: ``guests export-person``, ``guests
erase-person`` with its confirmation, and the consent question after an import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.slack.guest_privacy import ERASE_ACTION
from bot.slack.import_consent import CONFIRM_ACTION
from store.database import Database
from store.demo import OPTED_OUT_PHONE
from store.enums import Channel
from store.models import ConsentRecord, Guest
from tests.dispatch_harness import midday_clock
from tests.personal_data import where_found
from tests.slack_harness import SlackBot, running_bot

# The demo's guest who texted STOP: a phone and no email.
NORA = ("Nora Scott", OPTED_OUT_PHONE, OPTED_OUT_PHONE.removeprefix("+1"))
NEW_GUESTS = b"name,phone\nJo Bloggs,+12015550177\nKim Lee,(201) 555-0178\n"


def _ephemeral_blocks(bot: SlackBot, fragment: str) -> list[dict[str, Any]]:
    for payload in bot.fake.payloads("chat.postEphemeral"):
        if fragment in str(payload.get("text")):
            blocks = payload.get("blocks") or "[]"
            return list(json.loads(blocks) if isinstance(blocks, str) else blocks)
    raise AssertionError(f"no private message containing {fragment!r}")


def _button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button in {blocks}")


async def test_an_admin_exports_and_erases_a_person_whose_opt_out_then_holds(
    database: Database, tmp_path: Path
) -> None:
    url = database.url.render_as_string(hide_password=False)
    async with running_bot(database, url, tmp_path, midday_clock()) as bot:
        await bot.command(f"guests export-person {OPTED_OUT_PHONE}", user="U_PLANNER")
        await bot.told("To export a person's data you need the owner or admin role")

        await bot.command(f"guests export-person {OPTED_OUT_PHONE}", user="U_OWNER")
        await bot.told("I sent you the export in our direct message", user="U_OWNER")
        [upload] = [u for u in bot.fake.uploads.values() if u.get("channel") == "D_U_OWNER"]
        assert upload["name"] == "person-export.json"
        assert upload["comment"].startswith(
            f"Everything Evergreen Weddings & Events holds about {OPTED_OUT_PHONE}:"
        )
        document = json.loads(upload["content"])
        assert [guest["name"] for guest in document["guests"]] == ["Nora Scott"]
        assert [(s["channel"], s["reason"]) for s in document["suppressions"]] == [("sms", "stop")]
        # Nora has no email address: any address in the file would be someone else's.
        assert "@example.com" not in upload["content"].decode()

        await bot.command(f"guests erase-person {OPTED_OUT_PHONE}", user="U_OWNER")
        question = f"Erase everything held about {OPTED_OUT_PHONE}? That is Nora Scott"
        await bot.told(question, user="U_OWNER")
        button = _button(_ephemeral_blocks(bot, question), ERASE_ACTION)
        assert button["style"] == "danger"
        assert button["confirm"]["confirm"]["text"] == "Erase"

        await bot.click(ERASE_ACTION, button["value"], user="U_PLANNER")
        await bot.told("To erase a person's data you need the owner or admin role")
        assert NORA[0] in " ".join(await where_found(database, [NORA[0]]))

        await bot.click(ERASE_ACTION, button["value"], user="U_OWNER")
        said = await bot.said("erased a person's data at their request")
        assert "Erased 1 guest row in 1 wedding" in said["text"]
        assert "1 opt-out stays in force" in said["text"]
        assert OPTED_OUT_PHONE not in said["text"]
        assert await where_found(database, NORA) == []
        # The question is still on screen: pressing it again erases nothing more.
        await bot.click(ERASE_ACTION, button["value"], user="U_OWNER")
        await bot.told("Nothing is held about that address any more", user="U_OWNER")

        # The opt-out is found by the whole number, and holds for a new import.
        await bot.command(f"optouts sms {OPTED_OUT_PHONE}")
        listed = await bot.said("active SMS opt-out matching")
        assert "an erased guest's address (sms) — stop" in listed["text"]
        shared = bot.fake.share_file(
            "F_AGAIN",
            "again.csv",
            f"name,phone\nNora Scott,{OPTED_OUT_PHONE}\n".encode(),
            bot.fake_url,
        )
        await bot.message("comms guests import", files=[shared])
        report = await bot.said("Imported again.csv into Alex & Sam")
        assert "1 of these guests opted out earlier and will not be messaged." in report["text"]
        await bot.command("guests count")
        counted = await bot.said("SMS: ")
        assert "opted out (stop 1)" in counted["text"]


async def test_a_planner_confirms_sms_consent_for_an_imported_list(bot: SlackBot) -> None:
    shared = bot.fake.share_file("F_NEW", "new.csv", NEW_GUESTS, bot.fake_url)
    await bot.message("comms guests import", files=[shared])
    await bot.said("Imported new.csv into Alex & Sam: 2 added")
    await bot.command("guests count")
    await bot.said("4 without SMS consent on record")
    question = await bot.said("2 guests in new.csv have a mobile number but no SMS consent")
    button = _button(question["blocks"], CONFIRM_ACTION)
    shown = button["confirm"]["text"]["text"]
    assert shown == (
        "I confirm that the guests in new.csv with a mobile number agreed to receive text "
        "messages from Evergreen Weddings & Events about the wedding of Alex & Sam."
    )

    await bot.click(CONFIRM_ACTION, button["value"], user="U_VIEWER", message_ts=question["ts"])
    await bot.told("To add or import guests you need")

    await bot.click(CONFIRM_ACTION, button["value"], user="U_PLANNER", message_ts=question["ts"])
    done = await bot.said("SMS consent recorded for 2 guests")
    assert done["ts"] == question["ts"]  # the question became the answer
    assert done["text"].startswith(f"<@U_PLANNER> confirmed: “{shown}”")
    async with bot.database.reading() as session:
        records = (
            await session.execute(
                select(
                    Guest.name,
                    ConsentRecord.source,
                    ConsentRecord.text_shown,
                    ConsentRecord.recorded_by,
                )
                .join(Guest, Guest.id == ConsentRecord.guest_id)
                .where(ConsentRecord.channel == Channel.SMS)
            )
        ).all()
    # Names are encrypted at rest: chosen here, not in SQL.
    imported = sorted(tuple(r) for r in records if r[0] in {"Jo Bloggs", "Kim Lee"})
    assert imported == [
        ("Jo Bloggs", "import_confirmation", shown, "slack:U_PLANNER"),
        ("Kim Lee", "import_confirmation", shown, "slack:U_PLANNER"),
    ]
    # The demo's two guests who never agreed are all that is left without consent.
    await bot.command("guests count")
    await bot.said("2 without SMS consent on record")


async def test_a_list_with_a_consent_column_is_not_asked_about(bot: SlackBot) -> None:
    data = b"name,phone,sms_consent\nJo Bloggs,+12015550177,yes\nKim Lee,+12015550178,no\n"
    shared = bot.fake.share_file("F_COLUMN", "column.csv", data, bot.fake_url)
    await bot.message("comms guests import", files=[shared])
    report = await bot.said("Imported column.csv into Alex & Sam: 2 added")
    assert "SMS consent recorded for 1 guest, withdrawn for 1 guest." in report["text"]
    assert "1 guest with a mobile number has no SMS consent on record" in report["text"]
    asked = [m for m in bot.fake.messages.values() if CONFIRM_ACTION in json.dumps(m)]
    assert asked == []

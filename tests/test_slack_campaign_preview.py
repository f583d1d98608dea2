"""`/comms campaign show` for a large audience, through Slack: the preview counts every
guest exactly, and follows an opt-out and an edit at once (nothing of it is kept
between two shows)."""

from __future__ import annotations

import re

from sqlalchemy import insert

from store.enums import Channel
from store.models import ConsentRecord, Guest
from store.models.base import utcnow
from tests.campaign_conversation_steps import answer, count, to_preview
from tests.following_helpers import demo, guest_texts
from tests.slack_harness import SlackBot

# Over the ledger's IN-list limit (500 addresses): the preview reads the
# organisation's whole active ledger, as a real wedding's does.
ADDED = 600


async def add_pending_guests(bot: SlackBot, how_many: int) -> None:
    """Guests with an email, a phone and SMS consent, RSVP pending; every third one's
    name has a “ë”, outside GSM-7, so their texts cost UCS-2 segments."""
    found = await demo(bot)
    now = utcnow()
    async with bot.database.transaction() as session:
        ids = (
            await session.scalars(
                insert(Guest).returning(Guest.id, sort_by_parameter_order=True),
                [
                    {
                        "wedding_id": found.wedding_id,
                        "name": f"{'Zoë' if n % 3 == 0 else 'Jo'} Guest{n:04d}",
                        "email": f"added{n}@example.com",
                        "phone": f"+1215555{n:04d}",
                        "rsvp_status": "pending",
                        "party_size": 1,
                        "plus_one": False,
                        "custom_fields": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(how_many)
                ],
            )
        ).all()
        await session.execute(
            insert(ConsentRecord),
            [
                {
                    "organisation_id": found.organisation_id,
                    "guest_id": guest_id,
                    "channel": Channel.SMS,
                    "granted": True,
                    "source": "test",
                    "text_shown": "Texts about the wedding",
                    "recorded_by": "test",
                    "created_at": now,
                }
                for guest_id in ids
            ],
        )


async def shown(bot: SlackBot, campaign_id: int) -> dict[str, str]:
    """`campaign show N` as the planner types it; its lines by their label."""
    before = count(bot, f"Campaign {campaign_id}, “")
    answered = await bot.command(f"campaign show {campaign_id}")
    assert answered.status == 200
    await bot.wait_for(lambda: count(bot, f"Campaign {campaign_id}, “") > before)
    text = [t for t in bot.fake.texts() if f"Campaign {campaign_id}, “" in t][-1]
    return dict(line.split(": ", 1) for line in text.splitlines()[1:] if ": " in line)


def numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


async def test_a_large_audience_is_counted_guest_by_guest(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    before = await shown(bot, walked.campaign_id)
    await add_pending_guests(bot, ADDED)
    after = await shown(bot, walked.campaign_id)
    matched, receiving = numbers(before["Audience"].split("—")[1])
    assert numbers(after["Audience"].split("—")[1]) == [matched + ADDED, receiving + ADDED]
    assert after["Opted out (not sent)"] == before["Opted out (not sent)"]
    texts_before, segments_before = numbers(before["Cost"].split(";")[0])[:2]
    texts_after, segments_after = numbers(after["Cost"].split(";")[0])[:2]
    assert texts_after == texts_before + ADDED
    # The template's text fits one GSM-7 segment for a “Jo”; a “Zoë” forces
    # UCS-2 (70 characters a segment) for the whole text, which then needs more.
    jos, zoes = ADDED - ADDED // 3, ADDED // 3
    assert segments_after - segments_before > jos + zoes
    emails = re.search(r"email: ([\d,]+) messages", after["Cost"])
    emails_before = re.search(r"email: ([\d,]+) messages", before["Cost"])
    assert emails is not None
    assert emails_before is not None
    assert int(emails[1].replace(",", "")) == int(emails_before[1].replace(",", "")) + ADDED


async def test_an_opt_out_and_an_edit_show_at_once(bot: SlackBot) -> None:
    walked = await to_preview(bot, channels="sms")
    await add_pending_guests(bot, ADDED)
    first = await shown(bot, walked.campaign_id)
    texts, _segments = numbers(first["Cost"].split(";")[0])[:2]

    await guest_texts(bot, "Jo Guest0001", "STOP")
    await guest_texts(bot, "Jo Guest0002", "STOP")
    opted = await shown(bot, walked.campaign_id)
    assert numbers(opted["Cost"].split(";")[0])[0] == texts - 2
    stops = re.search(r"(\d+) stop", opted["Opted out (not sent)"])
    was = re.search(r"(\d+) stop", first["Opted out (not sent)"])
    assert stops is not None
    assert int(stops[1]) == (int(was[1]) if was else 0) + 2

    # The same show again is the same preview (kept, or computed anew alike);
    # a guest's RSVP by text takes them out of the rsvp=pending audience.
    assert await shown(bot, walked.campaign_id) == opted
    await guest_texts(bot, "Zoë Guest0003", "YES")
    answered = await shown(bot, walked.campaign_id)
    assert numbers(answered["Cost"].split(";")[0])[0] == texts - 3
    assert answered["Audience"] != opted["Audience"]

    # A new text of the planner's own, with a typographic apostrophe: every
    # text now needs UCS-2, and the preview says so and what it would save.
    await answer(bot, "change text", walked.thread_ts, "What should it say?")
    await answer(bot, "own", walked.thread_ts, "Write the SMS text")
    own = "We’re counting the days until the wedding: see you at the barn, and bring dancing shoes!"
    await answer(bot, own, walked.thread_ts, "Preview of campaign")
    edited = await shown(bot, walked.campaign_id)
    # With the sender's name and the STOP line, over 70 UCS-2 characters but
    # under 160 GSM-7 ones: two segments each, one without the apostrophe.
    assert numbers(edited["Cost"].split(";")[0])[:2] == [texts - 3, 2 * (texts - 3)]
    assert (
        f"tip: “’” forces UCS-2: 2 segments instead of 1 for {texts - 3} guests" in (edited["Cost"])
    )
    assert "tip:" not in opted["Cost"]

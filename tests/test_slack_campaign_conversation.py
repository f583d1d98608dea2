"""The campaign conversation, from ``/comms campaign new`` to guests' phones and inboxes,
through signed requests into ``/slack/events``, the Slack fake and real workers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from store.database import Database
from store.enums import CampaignState
from store.models import AuditEntry, Campaign, Conversation, SlackMessage
from tests.campaign_conversation_steps import answer, count, start, to_preview
from tests.dispatch_harness import Backend, midday_clock, wait_for_state
from tests.slack_harness import SlackBot, running_bot

PLANNER_EMAIL = "u_planner@evergreen-weddings.example.com"


async def test_from_campaign_new_to_messages_at_the_providers(
    backend: Backend, tmp_path: Path
) -> None:
    async with running_bot(
        backend.database, backend.url, tmp_path, midday_clock(), backend.redis_url
    ) as bot:
        walked = await to_preview(bot)
        thread = walked.thread_ts
        texts = "\n".join(bot.fake.texts())
        # One wedding: its question is skipped and named instead.
        assert "This campaign is for Alex & Sam" in texts
        assert "Which wedding" not in texts
        # The audience answer: the live count, and who will not get it and why.
        assert "opted out of SMS (reason: stop)" in texts
        assert "have no SMS consent on record (SMS)" in texts
        preview = await bot.said("Preview of campaign")
        assert preview["thread_ts"] == thread
        for part in (
            "Subject: Reminder",
            "SMS (GSM-7",
            "segment",
            "Compliance score",
            "Cost estimate",
            "Evergreen Weddings:",
        ):
            assert part in preview["text"], part
        assert preview["blocks"][0]["type"] == "header"

        await answer(bot, "send now", thread, "Approval needed")
        card = await bot.said("Approval needed", channel="D_U_APPROVER")
        assert "Approve campaign" in str(card["blocks"])
        assert "/comms campaign approve" in card["text"]  # the typed twin
        for fact in (
            "Audience:",
            "Opted out (not sent): 1 stop",
            "Channels: email and SMS",
            "Cost:",
            "Compliance score:",
            "Sends: as soon as it is approved",
        ):
            assert fact in card["text"], fact
        assert await bot.said("Approval needed", channel="D_U_OWNER")
        assert not bot.fake.in_channel("D_U_PLANNER")  # the author approves nothing

        await bot.click(
            "campaign_approve",
            str(walked.campaign_id),
            user="U_APPROVER",
            channel="D_U_APPROVER",
            message_ts=card["ts"],
        )
        await bot.said("approved by <@U_APPROVER>")
        campaign = await wait_for_state(bot.database, walked.campaign_id, {CampaignState.COMPLETED})
        updated = bot.fake.messages[("D_U_APPROVER", card["ts"])]
        assert "Approved by <@U_APPROVER>: sending has started" in updated["text"]
        assert "actions" not in [block["type"] for block in updated["blocks"]]
        assert bot.fakes.smtp.to("grace.kim@example.com")
        assert bot.fakes.twilio.sent_to("+12015550104")
        assert not bot.fakes.twilio.sent_to("+12015550139")  # Nora opted out
        assert not bot.fakes.smtp.to("maria.alvarez@example.com")  # confirmed, not pending
        assert campaign.approved_by_member_id is not None
        async with bot.database.reading() as session:
            cards = await session.scalar(
                select(func.count()).where(
                    SlackMessage.campaign_id == walked.campaign_id,
                    SlackMessage.purpose.in_(("approval", "approval_settled")),
                )
            )
            edits = await session.scalar(
                select(func.count()).where(
                    AuditEntry.entity_id == str(walked.campaign_id),
                    AuditEntry.action == "campaign.edited",
                )
            )
        assert cards == 3  # the thread, and one direct message per approver
        assert edits is not None
        assert edits >= 2  # the audience and the template, each audited


async def test_test_reaches_the_planner_only_and_says_where(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    await answer(bot, "test", walked.thread_ts, "Sent a test email")
    said = await bot.said("Sent a test email")
    assert PLANNER_EMAIL in said["text"]
    await bot.wait_for(lambda: bot.fakes.smtp.messages)
    assert [str(m["To"]) for m in bot.fakes.smtp.messages] == [f"Pat Planner <{PLANNER_EMAIL}>"]
    body = bot.fakes.smtp.messages[0].get_body(("plain",))
    assert body is not None
    assert "Pat Planner" in body.get_content()  # the planner stands in for the guest
    assert bot.fakes.twilio.messages == []  # the planner has no phone on record


async def test_a_member_without_addresses_is_told_how_to_add_one(bot: SlackBot) -> None:
    async with bot.database.transaction() as session:
        from store.models import Member

        member = await session.scalar(select(Member).where(Member.slack_user_id == "U_PLANNER"))
        assert member is not None
        member.email = None
    walked = await to_preview(bot)
    await bot.message("test", thread_ts=walked.thread_ts)
    told = await bot.told("nowhere to send a test")
    assert "`/comms me email you@example.com`" in told
    assert bot.fakes.smtp.messages == []

    # The way out it names: the planner's own address, then the test reaches it.
    await bot.command("me email Pat.Planner@Example.com")
    await bot.told("Your campaign tests now go to pat.planner@example.com")
    await answer(bot, "test", walked.thread_ts, "Sent a test email to pat.planner@example.com")
    await bot.wait_for(lambda: len(bot.fakes.smtp.messages) == 1, what="the test email")


async def test_only_the_starter_moves_the_conversation_on(bot: SlackBot) -> None:
    thread = await start(bot)
    await bot.message("Sneaky name", thread_ts=thread, user="U_OWNER")
    told = await bot.told("only their answers move it on", user="U_OWNER")
    assert "<@U_PLANNER>" in told
    async with bot.database.reading() as session:
        step = await session.scalar(select(Conversation.step))
    assert step == "name"


async def test_a_restart_mid_conversation_continues_where_it_was(
    sqlite_database: Database, sqlite_database_url: str, tmp_path: Path
) -> None:
    """The second bot shares only the database with the first: nothing in memory survives."""
    clock = midday_clock()
    async with running_bot(sqlite_database, sqlite_database_url, tmp_path, clock) as first:
        thread = await start(first)
        await answer(first, "Week-of details", thread, "Send it by")
        await answer(first, "email", thread, "is saved as a draft")
    async with running_bot(sqlite_database, sqlite_database_url, tmp_path, clock) as second:
        await answer(second, "rsvp=confirmed", thread, "guests match")
        await answer(second, "week_of", thread, "Preview of campaign")
        preview = await second.said("Preview of campaign")
        assert preview["thread_ts"] == thread
    async with sqlite_database.reading() as session:
        campaign = await session.scalar(select(Campaign))
    assert campaign is not None
    assert (campaign.audience, campaign.template_key) == ("rsvp=confirmed", "week_of")


async def test_a_bad_answer_is_explained_and_the_question_stands(bot: SlackBot) -> None:
    thread = await start(bot)
    await answer(bot, "Reminder", thread, "Send it by")
    await bot.message("pigeon", thread_ts=thread)
    await bot.told("I did not understand “pigeon”")
    await answer(bot, "sms", thread, "is saved as a draft")
    await bot.message("rsvp=maybe-later", thread_ts=thread)
    told = await bot.told("I could not read that audience")
    assert "rsvp" in told
    async with bot.database.reading() as session:
        campaign = await session.scalar(select(Campaign))
    assert campaign is not None
    assert campaign.audience == ""


async def test_own_text_typed_for_a_template_is_taken_as_the_text(bot: SlackBot) -> None:
    # A planner who writes the message where a template is asked for means it:
    # an SMS campaign takes it as is; one with email first needs a subject.
    thread = await start(bot)
    await answer(bot, "Shuttle", thread, "Send it by")
    await answer(bot, "sms", thread, "is saved as a draft")
    await answer(bot, "everyone", thread, "guests match")
    own = "Hi {{first_name}}, the shuttle leaves {{venue_name}} at 10pm sharp."
    await answer(bot, own, thread, "Preview of campaign")
    async with bot.database.reading() as session:
        campaign = await session.scalar(select(Campaign))
    assert campaign is not None
    assert (campaign.template_key, campaign.sms_text) == (None, own)

    second = await start(bot)
    await answer(bot, "Shuttle by email too", second, "Send it by")
    await answer(bot, "both", second, "is saved as a draft")
    await answer(bot, "everyone", second, "guests match")
    await bot.message(own, thread_ts=second)
    told = await bot.told("That looks like your own text")
    assert "email subject, the email text and the SMS text" in told
    await bot.message("the fancy one", thread_ts=second)
    await bot.told("“the fancy one” is no template")
    # A sentence asking for a template is not taken as the text.
    await bot.message("use the reminder template please", thread_ts=second)
    await bot.told("“use the reminder template please” is no template")


async def test_a_schedule_is_echoed_in_full_and_confirmed(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    # A night-time hour is pointed out before anything is scheduled: texts would wait.
    await answer(bot, "schedule saturday 11pm", walked.thread_ts, "Answer `yes`")
    asked = (await bot.said("Answer `yes`"))["text"]
    assert "23:00 (America/New_York)? Note: that is within quiet hours" in asked
    await answer(bot, "no", walked.thread_ts, "Not scheduled")
    await bot.command(f"campaign schedule {walked.campaign_id} saturday 9:30pm")
    scheduled = (await bot.said("is scheduled for"))["text"]
    assert "21:30 (America/New_York). Note: that is within quiet hours" in scheduled
    # The way out it names: day-of logistics, which lets texts go at night.
    assert f"`/comms campaign day-of {walked.campaign_id} on`" in scheduled
    await bot.command(f"campaign day-of {walked.campaign_id} on")
    await bot.said("is marked as day-of logistics")
    async with bot.database.reading() as session:
        marked = await session.get(Campaign, walked.campaign_id)
    assert marked is not None
    assert marked.day_of_logistics
    await bot.command(f"campaign schedule {walked.campaign_id} saturday 9:45pm")
    await bot.wait_for(
        lambda: any("21:45 (America/New_York)" in t for t in bot.fake.texts()), what="21:45"
    )
    again = [t for t in bot.fake.texts() if "21:45 (America/New_York)" in t]
    assert "quiet hours" not in again[-1]
    await bot.command(f"campaign day-of {walked.campaign_id} off")
    await bot.said("is no longer day-of logistics")
    await bot.command(f"campaign day-of {walked.campaign_id} maybe")
    await bot.told("Usage: `/comms campaign day-of 3 on` (or `off`).")

    await answer(bot, "schedule saturday 10am", walked.thread_ts, "10:00 (America/New_York)?")
    asked = [t for t in bot.fake.texts() if "10:00 (America/New_York)?" in t][-1]
    assert "Saturday" in asked
    assert "quiet hours" not in asked
    await answer(bot, "yes", walked.thread_ts, "Approval needed")
    async with bot.database.reading() as session:
        campaign = await session.get(Campaign, walked.campaign_id)
    assert campaign is not None
    assert campaign.scheduled_at is not None
    assert campaign.state == CampaignState.PENDING_APPROVAL


async def test_a_bad_schedule_is_explained_and_changes_nothing(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    await bot.message("schedule when pigs fly", thread_ts=walked.thread_ts)
    await bot.told("I could not read “when pigs fly”")
    await bot.message("schedule yesterday 10am", thread_ts=walked.thread_ts)
    await bot.told("has already passed")
    async with bot.database.reading() as session:
        campaign = await session.get(Campaign, walked.campaign_id)
    assert campaign is not None
    assert campaign.scheduled_at is None
    assert count(bot, "Answer `yes`") == 0


async def test_cancel_ends_the_conversation_and_the_draft(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    await answer(bot, "cancel", walked.thread_ts, f"Campaign {walked.campaign_id} cancelled")
    async with bot.database.reading() as session:
        campaign = await session.get(Campaign, walked.campaign_id)
        ended = await session.scalar(select(Conversation.ended_at))
    assert campaign is not None
    assert campaign.state == CampaignState.CANCELLED
    assert ended is not None

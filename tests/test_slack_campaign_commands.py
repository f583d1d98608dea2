"""Campaign commands typed in Slack, and the one-screen form (``views.open``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from store.enums import CampaignState
from store.models import AuditEntry, Campaign, Conversation
from tests.campaign_conversation_steps import answer, count, to_preview
from tests.dispatch_harness import wait_for_state
from tests.slack_harness import SlackBot


async def test_list_and_show_read_campaigns_for_any_member(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    await bot.command("campaign list", user="U_VIEWER")
    listed = await bot.said("RSVP reminder, May — draft")
    assert listed["text"].startswith("*Alex & Sam*")
    assert f"{walked.campaign_id}. RSVP reminder, May — draft, email and SMS" in listed["text"]
    await bot.command(f"campaign show {walked.campaign_id}", user="U_VIEWER")
    shown = await bot.said("Prepared by <@U_PLANNER>")
    assert "Compliance score:" in shown["text"]
    assert "Its thread:" in shown["text"]


async def test_a_viewer_cannot_cancel_and_is_told_the_role(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    await bot.command(f"campaign cancel {walked.campaign_id}", user="U_VIEWER")
    told = await bot.told(
        "To prepare, test, schedule, pause, cancel or delete campaigns you need", user="U_VIEWER"
    )
    assert "planner" in told
    async with bot.database.reading() as session:
        campaign = await session.get(Campaign, walked.campaign_id)
    assert campaign is not None
    assert campaign.state == CampaignState.DRAFT


async def test_a_wrong_number_and_a_wrong_state_are_explained(bot: SlackBot) -> None:
    await bot.command("campaign show 99")
    await bot.told("There is no campaign 99")
    await bot.command("campaign pause abc")
    await bot.told("“abc” is not a campaign number")
    walked = await to_preview(bot)
    await bot.command(f"campaign pause {walked.campaign_id}")
    await bot.told("only a campaign that is sending can be paused")


async def test_typed_commands_take_a_campaign_from_draft_to_sent_and_back(bot: SlackBot) -> None:
    walked = await to_preview(bot, channels="sms", audience="group=family")
    n = walked.campaign_id
    await bot.command(f"campaign schedule {n} in 3 days")
    scheduled = await bot.said(f"Campaign {n} is scheduled for")
    assert "(America/New_York)" in scheduled["text"]
    await bot.command(f"campaign schedule {n} last tuesday")
    await bot.told("has already passed")
    await bot.command(f"campaign request-approval {n}")
    await bot.said("Approval needed")
    await bot.command(f"campaign approve {n}", user="U_APPROVER")
    await bot.wait_for(lambda: count(bot, "approved by <@U_APPROVER>") >= 2)
    await bot.command(f"campaign cancel {n}")
    await bot.wait_for(lambda: count(bot, f"Campaign {n} cancelled:") >= 2)
    said = await bot.said(f"Campaign {n} cancelled:")
    assert "messages not yet sent will not go out" in said["text"]
    assert bot.fakes.twilio.messages == []  # it was scheduled for later: nothing went


async def test_retry_resends_failed_messages(bot: SlackBot) -> None:
    bot.fakes.twilio.refuse["+12015550104"] = (400, 30003)  # Grace Kim's phone is off
    walked = await to_preview(bot, channels="sms", audience="group=family")
    n = walked.campaign_id
    await answer(bot, "send now", walked.thread_ts, "Approval needed")
    await bot.command(f"campaign approve {n}", user="U_APPROVER")
    await wait_for_state(bot.database, n, {CampaignState.COMPLETED, CampaignState.FAILED})
    del bot.fakes.twilio.refuse["+12015550104"]
    await bot.command(f"campaign retry {n}")
    await bot.wait_for(lambda: count(bot, "failed message(s) again") >= 2)
    await wait_for_state(bot.database, n, {CampaignState.COMPLETED})
    assert bot.fakes.twilio.sent_to("+12015550104")


async def test_retry_with_nothing_failed_is_refused_and_changes_nothing(bot: SlackBot) -> None:
    walked = await to_preview(bot, channels="sms", audience="group=family")
    n = walked.campaign_id
    await answer(bot, "send now", walked.thread_ts, "Approval needed")
    await bot.command(f"campaign approve {n}", user="U_APPROVER")
    await wait_for_state(bot.database, n, {CampaignState.COMPLETED})
    before = await _campaign_and_audit(bot, n)
    assert before[2] > 0  # its transitions so far were audited
    await bot.command(f"campaign retry {n}")
    await bot.told(f"Campaign {n} has no failed messages to retry.", user="U_PLANNER")
    assert await _campaign_and_audit(bot, n) == before


async def _campaign_and_audit(bot: SlackBot, campaign_id: int) -> tuple[Any, ...]:
    async with bot.database.reading() as session:
        campaign = await session.get(Campaign, campaign_id)
        audited = await session.scalar(
            select(func.count()).where(
                AuditEntry.entity_type == "campaign", AuditEntry.entity_id == str(campaign_id)
            )
        )
    assert campaign is not None
    return campaign.state, campaign.completed_at, audited


def _form(**fields: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for block, value in fields.items():
        if block in ("channels", "template"):
            values[block] = {block: {"selected_option": {"value": value}}}
        else:
            values[block] = {block: {"type": "plain_text_input", "value": value}}
    return values


async def test_the_form_creates_the_draft_and_previews_it_in_a_thread(bot: SlackBot) -> None:
    await bot.command("campaign new form")
    await bot.wait_for(lambda: bot.fake.views)
    view = next(iter(bot.fake.views.values()))
    assert view["callback_id"] == "campaign_form"
    metadata = view["private_metadata"]

    bad = await bot.submit_view(
        "campaign_form",
        _form(name="Shuttle times", channels="sms", audience="rsvp=soon", template="own"),
        private_metadata=metadata,
    )
    answered = await bad.json()
    assert answered["response_action"] == "errors"
    assert "audience" in answered["errors"]
    bad = await bot.submit_view(
        "campaign_form",
        _form(name="Shuttle times", channels="sms", audience="rsvp=confirmed", template="own"),
        private_metadata=metadata,
    )
    assert set((await bad.json())["errors"]) == {"sms_text"}
    async with bot.database.reading() as session:
        assert await session.scalar(select(Campaign)) is None  # nothing was created

    good = await bot.submit_view(
        "campaign_form",
        _form(
            name="Shuttle times",
            channels="sms",
            audience="rsvp=confirmed",
            template="own",
            sms_text="Hi {{first_name}}, the shuttle leaves the hotel at 3pm.",
        ),
        private_metadata=metadata,
    )
    assert good.status == 200
    preview = await bot.said("Preview of campaign")
    assert "the shuttle leaves the hotel at 3pm" in preview["text"]
    async with bot.database.reading() as session:
        conversation = await session.scalar(select(Conversation))
    assert conversation is not None
    assert conversation.step == "review"
    assert preview["thread_ts"] == conversation.thread_ts
    # The thread takes the same answers as the conversation's.
    await answer(bot, "send now", conversation.thread_ts, "Approval needed")

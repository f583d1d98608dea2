"""Approval from Slack: four eyes, roles named, edits after approval void it, rejection
reaches the author, and the tier limit makes approval impossible."""

from __future__ import annotations

from sqlalchemy import func, select

from store.audit import Actor
from store.enums import CampaignState, Tier
from store.guestlist.importer import apply_guest_rows
from store.guestlist.reader import GuestRow, ParsedGuestList
from store.models import AuditEntry, Campaign, Delivery, Wedding
from tests.campaign_conversation_steps import answer, count, to_preview
from tests.dispatch_harness import set_tier
from tests.slack_harness import SlackBot


async def _state(bot: SlackBot, campaign_id: int) -> CampaignState:
    async with bot.database.reading() as session:
        campaign = await session.get(Campaign, campaign_id)
    assert campaign is not None
    return campaign.state


async def test_the_author_cannot_approve_their_own_campaign(bot: SlackBot) -> None:
    walked = await to_preview(bot, user="U_OWNER")  # an owner may approve, but not this one
    await answer(bot, "send now", walked.thread_ts, "Approval needed", user="U_OWNER")
    card = await bot.said("Approval needed")
    await bot.click(
        "campaign_approve",
        str(walked.campaign_id),
        user="U_OWNER",
        message_ts=card["ts"],
        thread_ts=walked.thread_ts,
    )
    told = await bot.told("someone other than its author", user="U_OWNER")
    assert "approved" in told
    assert await _state(bot, walked.campaign_id) == CampaignState.PENDING_APPROVAL
    # The author gets no card of their own.
    assert not bot.fake.in_channel("D_U_OWNER")


async def test_a_viewer_is_told_which_role_approving_needs(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    await answer(bot, "send now", walked.thread_ts, "Approval needed")
    await bot.command(f"campaign approve {walked.campaign_id}", user="U_VIEWER")
    told = await bot.told("To approve or reject a campaign you need", user="U_VIEWER")
    assert "approver" in told
    assert "you are a viewer" in told
    card = await bot.said("Approval needed")
    await bot.click(
        "campaign_approve", str(walked.campaign_id), user="U_VIEWER", message_ts=card["ts"]
    )
    await bot.wait_for(lambda: len(bot.fake.ephemerals("U_VIEWER")) >= 2)
    assert "you are a viewer" in bot.fake.ephemerals("U_VIEWER")[1]
    assert await _state(bot, walked.campaign_id) == CampaignState.PENDING_APPROVAL


async def test_an_edit_after_approval_voids_it_and_says_so(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    await answer(bot, "schedule tomorrow 10am", walked.thread_ts, "Answer `yes`")
    await answer(bot, "yes", walked.thread_ts, "Approval needed")
    await bot.command(f"campaign approve {walked.campaign_id}", user="U_APPROVER")
    await bot.said("it will be sent on")
    assert await _state(bot, walked.campaign_id) == CampaignState.SCHEDULED

    await answer(bot, "change audience", walked.thread_ts, "Who should get it?")
    await answer(bot, "rsvp=pending group=family", walked.thread_ts, "Preview of campaign")
    said = await bot.said("approval no longer holds")
    assert said["thread_ts"] == walked.thread_ts
    assert await _state(bot, walked.campaign_id) == CampaignState.DRAFT
    async with bot.database.reading() as session:
        campaign = await session.get(Campaign, walked.campaign_id)
        rows = await session.scalar(
            select(func.count()).where(Delivery.campaign_id == walked.campaign_id)
        )
        voided = await session.scalar(
            select(func.count()).where(AuditEntry.action == "campaign.approval_voided")
        )
    assert campaign is not None
    assert campaign.approval_hash is None
    assert rows == 0  # nothing from the voided approval can go out
    assert voided == 1
    # Approving again works from a new request, on the new content.
    await answer(bot, "send now", walked.thread_ts, "Approval needed")
    await bot.command(f"campaign approve {walked.campaign_id}", user="U_APPROVER")
    # Each approval is said in the thread and where the approver typed it.
    await bot.wait_for(lambda: count(bot, "approved by <@U_APPROVER>") >= 4)


async def test_an_edit_while_waiting_withdraws_the_request_and_its_cards(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    await answer(bot, "send now", walked.thread_ts, "Approval needed")
    card = await bot.said("Approval needed", channel="D_U_APPROVER")
    await answer(bot, "change text", walked.thread_ts, "What should it say?")
    await answer(bot, "1", walked.thread_ts, "Answer here:")
    updated = bot.fake.messages[("D_U_APPROVER", card["ts"])]
    assert "request was withdrawn" in updated["text"]
    assert "actions" not in [block["type"] for block in updated["blocks"]]
    await bot.command(f"campaign approve {walked.campaign_id}", user="U_APPROVER")
    await bot.told("not waiting for approval", user="U_APPROVER")


async def test_reject_asks_for_a_reason_and_tells_the_author(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    await answer(bot, "send now", walked.thread_ts, "Approval needed")
    card = await bot.said("Approval needed", channel="D_U_APPROVER")
    await bot.click(
        "campaign_reject",
        str(walked.campaign_id),
        user="U_APPROVER",
        channel="D_U_APPROVER",
        message_ts=card["ts"],
    )
    await bot.wait_for(lambda: bot.fake.views)
    view = next(iter(bot.fake.views.values()))
    assert view["callback_id"] == "campaign_reject_reason"
    empty = await bot.submit_view(
        "campaign_reject_reason",
        {"reason": {"reason": {"value": ""}}},
        user="U_APPROVER",
        private_metadata=view["private_metadata"],
    )
    assert (await empty.json())["response_action"] == "errors"
    await bot.submit_view(
        "campaign_reject_reason",
        {"reason": {"reason": {"type": "plain_text_input", "value": "Wrong RSVP date"}}},
        user="U_APPROVER",
        private_metadata=view["private_metadata"],
    )
    told = await bot.said("was rejected by <@U_APPROVER>")
    assert told["thread_ts"] == walked.thread_ts
    assert "<@U_PLANNER>" in told["text"]
    assert "Wrong RSVP date" in told["text"]
    assert await _state(bot, walked.campaign_id) == CampaignState.DRAFT
    assert "Rejected by" in bot.fake.messages[("D_U_APPROVER", card["ts"])]["text"]


async def test_a_typed_reject_needs_a_reason(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    await answer(bot, "send now", walked.thread_ts, "Approval needed")
    await bot.command(f"campaign reject {walked.campaign_id}", user="U_APPROVER")
    await bot.told("Say why", user="U_APPROVER")
    await bot.command(f"campaign reject {walked.campaign_id} the date is wrong", user="U_APPROVER")
    # Said in the campaign's thread and where the approver typed it.
    await bot.wait_for(lambda: count(bot, "was rejected by <@U_APPROVER>") >= 2)
    assert await _state(bot, walked.campaign_id) == CampaignState.DRAFT


async def test_over_the_tier_limit_nobody_can_approve(bot: SlackBot) -> None:
    async with bot.database.transaction() as session:
        wedding = await session.scalar(select(Wedding))
        assert wedding is not None
        rows = [
            GuestRow(line=n, name=f"Extra Guest {n}", email=f"extra{n}@example.com", phone=None)
            for n in range(1, 81)
        ]
        await apply_guest_rows(session, Actor("test"), wedding, ParsedGuestList(rows, [], []))
        organisation_id = wedding.organisation_id
    await set_tier(bot.database, organisation_id, Tier.FREE)  # 100 guests per campaign
    walked = await to_preview(bot, audience="everyone", channels="email")
    preview = await bot.said("Preview of campaign")
    assert "Free plan allows 100" in preview["text"]
    await bot.message("send now", thread_ts=walked.thread_ts)
    told = await bot.told("cannot go to approval yet")
    assert "Free plan allows 100 per campaign" in told
    assert await _state(bot, walked.campaign_id) == CampaignState.DRAFT

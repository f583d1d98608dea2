"""Asking for approval, and the cards approvers answer with.

Requesting approval moves a draft to pending_approval and posts a card in
the campaign's thread and to each approver (a direct message to every member
with an approving role other than the author). Each card is recorded as a
``SlackMessage`` (purpose ``approval``) so that approving, rejecting or
changing the campaign updates every copy in place and takes its buttons away.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from bot.slack.campaign_lookup import Previewed, announce, load, previewed, thread_of
from bot.slack.campaign_views import section, summary_lines
from bot.slack.errors import SlackBotError
from bot.slack.requests import CommandRequest, post
from bot.slack.when import spoken
from dispatch.approval import approve_campaign
from store.enums import CampaignState
from store.models import Member, SlackMessage
from store.permissions import Action, roles_for
from store.repositories.campaigns import CampaignRepository

APPROVAL = "approval"
SETTLED = "approval_settled"
APPROVE_ACTION = "campaign_approve"
REJECT_ACTION = "campaign_reject"


class NotReady(SlackBotError):
    """The campaign cannot be put to approvers (its state, or blocking findings)."""


def card(
    found: Previewed, author: str, note: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The card's text and blocks; with a ``note`` (the outcome) it has no buttons."""
    campaign = found.campaign
    heading = f"Approval needed: campaign {campaign.id}, “{campaign.name}”, by <@{author}>"
    lines = summary_lines(campaign, found.preview, found.zone)
    if note is not None:
        text = f"{heading}\n" + "\n".join(lines) + f"\n{note}"
        return text, [section(heading), section("\n".join(lines)), section(f"*{note}*")]
    typed = (
        f"Approve with the button or `/comms campaign approve {campaign.id}`; reject with "
        f"the button or `/comms campaign reject {campaign.id} <reason>`."
    )
    text = f"{heading}\n" + "\n".join(lines) + f"\n{typed}"
    value = str(campaign.id)
    buttons = {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "text": {"type": "plain_text", "text": f"Approve campaign {campaign.id}"},
                "style": "primary",
                "value": value,
            },
            {
                "type": "button",
                "action_id": REJECT_ACTION,
                "text": {"type": "plain_text", "text": f"Reject campaign {campaign.id}"},
                "value": value,
            },
        ],
    }
    return text, [section(heading), section("\n".join(lines)), section(typed), buttons]


async def request_approval(request: CommandRequest, campaign_id: int) -> None:
    found = await previewed(request, campaign_id)
    campaign = found.campaign
    if campaign.state != CampaignState.DRAFT:
        raise NotReady(
            f"Campaign {campaign_id} is {campaign.state.value.replace('_', ' ')}; only a draft "
            "can be sent for approval."
        )
    if found.preview.report.blocking:
        problems = " ".join(finding.message for finding in found.preview.report.blocking)
        raise NotReady(
            f"Campaign {campaign_id} cannot go to approval yet: {problems} "
            f"`/comms campaign preview {campaign_id}` shows how to fix it."
        )
    caller = request.caller
    async with request.services.database.transaction() as session:
        await CampaignRepository(session).transition(
            campaign_id, CampaignState.PENDING_APPROVAL, caller.actor
        )
        approvers = list(
            await session.scalars(
                select(Member.slack_user_id).where(
                    Member.organisation_id == caller.organisation.id,
                    Member.role.in_(roles_for(Action.APPROVE_CAMPAIGN)),
                    Member.id != campaign.created_by_member_id,
                )
            )
        )
    author = await _author(request, campaign.created_by_member_id)
    text, blocks = card(found, author)
    channel, thread_ts = await thread_of(request, campaign_id)
    places = [(channel, thread_ts)]
    for user in approvers:
        opened = await request.client.conversations_open(users=user)
        places.append((str(opened["channel"]["id"]), None))
    async with request.services.database.transaction() as session:
        for where, in_thread in places:
            ts = await post(request.client, where, text, blocks, thread_ts=in_thread)
            session.add(
                SlackMessage(
                    organisation_id=caller.organisation.id,
                    purpose=APPROVAL,
                    campaign_id=campaign_id,
                    channel_id=where,
                    ts=ts,
                    thread_ts=in_thread,
                )
            )
    names = ", ".join(f"<@{user}>" for user in approvers) or "nobody (no other member may approve)"
    await announce(
        request, campaign_id, f"Campaign {campaign_id} is waiting for approval; asked {names}."
    )


async def approve(request: CommandRequest, campaign_id: int) -> None:
    caller = request.caller
    async with request.services.database.reading() as session:
        campaign = await load(session, caller.organisation.id, campaign_id)
    if campaign.state != CampaignState.PENDING_APPROVAL:
        raise NotReady(
            f"Campaign {campaign_id} is {campaign.state.value.replace('_', ' ')}, not waiting "
            "for approval; there is nothing to approve."
        )
    approved = await approve_campaign(
        request.services.runtime, campaign_id, caller.member, caller.actor
    )
    found = await previewed(request, campaign_id)
    if approved.state == CampaignState.SCHEDULED and found.campaign.scheduled_at is not None:
        outcome = f"it will be sent on {spoken(found.campaign.scheduled_at, found.zone)}"
    else:
        outcome = f"sending has started ({approved.deliveries} messages)"
    note = f"Approved by <@{caller.member.slack_user_id}>: {outcome}."
    await _settle_cards(request, found, note)
    await announce(
        request,
        campaign_id,
        f"Campaign {campaign_id} approved by <@{caller.member.slack_user_id}>: {outcome}.",
    )


async def reject(request: CommandRequest, campaign_id: int, reason: str) -> None:
    caller = request.caller
    if not reason.strip():
        raise NotReady(
            f"Say why, so the author can fix it: `/comms campaign reject {campaign_id} <reason>`."
        )
    async with request.services.database.transaction() as session:
        campaign = await load(session, caller.organisation.id, campaign_id)
        if campaign.state != CampaignState.PENDING_APPROVAL:
            raise NotReady(
                f"Campaign {campaign_id} is {campaign.state.value.replace('_', ' ')}, not "
                "waiting for approval; there is nothing to reject."
            )
        await CampaignRepository(session).transition(
            campaign_id,
            CampaignState.DRAFT,
            caller.actor,
            changes={"rejection_reason": reason.strip()},
            action="campaign.rejected",
        )
    found = await previewed(request, campaign_id)
    who = f"<@{caller.member.slack_user_id}>"
    await _settle_cards(request, found, f"Rejected by {who}: {reason.strip()}")
    author = await _author(request, campaign.created_by_member_id)
    await announce(
        request,
        campaign_id,
        f"<@{author}>, campaign {campaign_id} was rejected by {who}: “{reason.strip()}”. "
        "It is a draft again: change it here (`change text`, `change audience`) and "
        "request approval again.",
    )


async def withdraw_cards(request: CommandRequest, campaign_id: int, why: str) -> None:
    """The campaign changed or ended: its open cards lose their buttons and say why."""
    found = await previewed(request, campaign_id)
    await _settle_cards(request, found, why)


async def _settle_cards(request: CommandRequest, found: Previewed, note: str) -> None:
    async with request.services.database.reading() as session:
        cards = list(
            await session.scalars(
                select(SlackMessage).where(
                    SlackMessage.campaign_id == found.campaign.id,
                    SlackMessage.purpose == APPROVAL,
                )
            )
        )
    if not cards:
        return
    author = await _author(request, found.campaign.created_by_member_id)
    text, blocks = card(found, author, note)
    for each in cards:
        await request.client.chat_update(
            channel=each.channel_id, ts=each.ts, text=text, blocks=blocks
        )
    async with request.services.database.transaction() as session:
        # A settled card is kept (which message it was) but not updated again.
        await session.execute(
            update(SlackMessage)
            .where(SlackMessage.id.in_([each.id for each in cards]))
            .values(purpose=SETTLED)
        )


async def _author(request: CommandRequest, member_id: int | None) -> str:
    async with request.services.database.reading() as session:
        member = await session.get(Member, member_id) if member_id is not None else None
    return member.slack_user_id if member is not None else "someone"

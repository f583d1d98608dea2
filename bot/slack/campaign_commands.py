"""``/comms campaign …``: every campaign command, and the buttons that do the same.

Each button (Approve, Reject, Fill in a form) has a typed twin, so nobody
needs a pointer: ``campaign approve 3``, ``campaign reject 3 <reason>``,
``campaign new form``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy import func, select

from bot.slack import approval_cards, campaign_conversation, campaign_modal, campaign_ops
from bot.slack.campaign_lookup import (
    announce,
    campaign_number,
    previewed,
    show_preview,
    thread_of,
)
from bot.slack.campaign_views import channels_words, summary_lines
from bot.slack.command_table import Command
from bot.slack.errors import UsageError
from bot.slack.requests import CommandRequest, clicked_value
from bot.slack.router import BotWiring
from store.models import Campaign, Delivery, Member, Wedding
from store.permissions import Action
from store.repositories.campaigns import not_deleted

Run = Callable[[CommandRequest], Awaitable[None]]


def register(bolt: AsyncApp, wiring: BotWiring) -> None:
    def add(
        words: str, arguments: str, summary: str, example: str, action: Action, run: Run
    ) -> None:
        wiring.table.add(
            Command(tuple(words.split()), arguments, summary, example, "Campaigns", action, run)
        )

    add(
        "campaign new",
        "[form]",
        "prepare a campaign, one question at a time in a thread (or `form` for one screen)",
        "/comms campaign new",
        Action.PLAN_CAMPAIGN,
        _new,
    )
    add(
        "campaign list",
        "",
        "every campaign per wedding, with its state and counts",
        "/comms campaign list",
        Action.READ,
        _list,
    )
    add(
        "campaign show",
        "<number>",
        "one campaign's summary",
        "/comms campaign show 3",
        Action.READ,
        _show,
    )
    add(
        "campaign preview",
        "<number>",
        "the messages as three guests will get them, compliance and cost",
        "/comms campaign preview 3",
        Action.READ,
        _preview,
    )
    add(
        "campaign test",
        "<number>",
        "send the real message to your own email or phone only",
        "/comms campaign test 3",
        Action.PLAN_CAMPAIGN,
        _said(campaign_ops.proof),
    )
    add(
        "campaign schedule",
        "<number> <when>",
        "send at a time (the wedding's time zone)",
        "/comms campaign schedule 3 saturday 10am",
        Action.PLAN_CAMPAIGN,
        _schedule,
    )
    add(
        "campaign day-of",
        "<number> on|off",
        "mark day-of logistics: its texts may go in quiet hours (21:00–08:00)",
        "/comms campaign day-of 3 on",
        Action.PLAN_CAMPAIGN,
        _day_of,
    )
    add(
        "campaign request-approval",
        "<number>",
        "ask the approvers to approve a draft",
        "/comms campaign request-approval 3",
        Action.PLAN_CAMPAIGN,
        _request,
    )
    add(
        "campaign approve",
        "<number>",
        "approve a campaign someone else prepared",
        "/comms campaign approve 3",
        Action.APPROVE_CAMPAIGN,
        _approve,
    )
    add(
        "campaign reject",
        "<number> <reason>",
        "send a campaign back to its author, saying why",
        "/comms campaign reject 3 the date is wrong",
        Action.APPROVE_CAMPAIGN,
        _reject,
    )
    add(
        "campaign cancel",
        "<number>",
        "stop a campaign; nothing more is sent",
        "/comms campaign cancel 3",
        Action.PLAN_CAMPAIGN,
        _said(campaign_ops.cancel),
    )
    add(
        "campaign pause",
        "<number>",
        "hold the messages not yet sent",
        "/comms campaign pause 3",
        Action.PLAN_CAMPAIGN,
        _said(campaign_ops.pause),
    )
    add(
        "campaign resume",
        "<number>",
        "send the held messages",
        "/comms campaign resume 3",
        Action.PLAN_CAMPAIGN,
        _said(campaign_ops.resume),
    )
    add(
        "campaign retry",
        "<number>",
        "send the failed messages of a finished campaign again",
        "/comms campaign retry 3",
        Action.PLAN_CAMPAIGN,
        _said(campaign_ops.retry),
    )
    wiring.thread_handlers.append(campaign_conversation.answer_thread)
    _buttons(bolt, wiring)
    campaign_modal.register(bolt, wiring)


def _number(request: CommandRequest) -> int:
    if not request.arguments:
        raise UsageError(
            "Which campaign? Give its number, e.g. `3`; `/comms campaign list` shows them."
        )
    return campaign_number(request.arguments[0])


def _said(operation: Callable[[CommandRequest, int], Awaitable[str]]) -> Run:
    async def run(request: CommandRequest) -> None:
        campaign_id = _number(request)
        await announce(request, campaign_id, await operation(request, campaign_id))

    return run


async def _new(request: CommandRequest) -> None:
    if request.arguments[:1] == ["form"]:
        await campaign_modal.open_form(request, thread=None)
    else:
        await campaign_conversation.start(request)


async def _preview(request: CommandRequest) -> None:
    where = (request.place.channel_id, request.place.thread_ts)
    await show_preview(request, _number(request), where)


async def _schedule(request: CommandRequest) -> None:
    campaign_id = _number(request)
    when = request.text.split(None, 1)[1] if len(request.arguments) > 1 else ""
    await announce(request, campaign_id, await campaign_ops.schedule(request, campaign_id, when))


async def _day_of(request: CommandRequest) -> None:
    campaign_id = _number(request)
    said = await campaign_ops.day_of(request, campaign_id, request.arguments[1:])
    await announce(request, campaign_id, said)


async def _request(request: CommandRequest) -> None:
    await approval_cards.request_approval(request, _number(request))


async def _approve(request: CommandRequest) -> None:
    await approval_cards.approve(request, _number(request))


async def _reject(request: CommandRequest) -> None:
    campaign_id = _number(request)
    reason = request.text.split(None, 1)[1] if len(request.arguments) > 1 else ""
    await approval_cards.reject(request, campaign_id, reason)


async def _show(request: CommandRequest) -> None:
    campaign_id = _number(request)
    found = await previewed(request, campaign_id)
    campaign = found.campaign
    async with request.services.database.reading() as session:
        author = await session.get(Member, campaign.created_by_member_id or 0)
        approver = await session.get(Member, campaign.approved_by_member_id or 0)
        counts = await _delivery_counts(session, [campaign_id])
    lines = [
        f"Campaign {campaign_id}, “{campaign.name}”: {campaign.state.value.replace('_', ' ')}",
        f"Prepared by <@{author.slack_user_id}>" if author else "Prepared outside Slack",
        *summary_lines(campaign, found.preview, found.zone),
    ]
    if approver is not None:
        lines.append(f"Approved by <@{approver.slack_user_id}>")
    if campaign.rejection_reason and campaign.state.value == "draft":
        lines.append(f"Last rejected because: {campaign.rejection_reason}")
    if counts.get(campaign_id):
        lines.append("Messages: " + _counts_words(counts[campaign_id]))
    channel, thread_ts = await thread_of(request, campaign_id)
    if thread_ts:
        lines.append(
            f"Its thread: https://slack.com/archives/{channel}/p{thread_ts.replace('.', '')}"
        )
    await request.say("\n".join(lines))


async def _list(request: CommandRequest) -> None:
    async with request.services.database.reading() as session:
        rows = list(
            await session.execute(
                select(Campaign, Wedding.couple_names)
                .join(Wedding, Wedding.id == Campaign.wedding_id)
                .where(Campaign.organisation_id == request.caller.organisation.id, not_deleted())
                .order_by(Wedding.wedding_date, Campaign.id)
            )
        )
        counts = await _delivery_counts(session, [row[0].id for row in rows])
    if not rows:
        await request.say("No campaigns yet. Start one with `/comms campaign new`.")
        return
    by_wedding: dict[str, list[str]] = defaultdict(list)
    for campaign, couple in rows:
        line = (
            f"• {campaign.id}. {campaign.name} — {campaign.state.value.replace('_', ' ')}, "
            f"{channels_words(campaign.channels)}"
        )
        if counts.get(campaign.id):
            line += "; " + _counts_words(counts[campaign.id])
        by_wedding[couple].append(line)
    text = "\n\n".join(f"*{couple}*\n" + "\n".join(lines) for couple, lines in by_wedding.items())
    await request.say(text)


async def _delivery_counts(session: Any, ids: list[int]) -> dict[int, dict[str, int]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Delivery.campaign_id, Delivery.status, func.count())
        .where(Delivery.campaign_id.in_(ids))
        .group_by(Delivery.campaign_id, Delivery.status)
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for campaign_id, status, count in rows:
        counts[campaign_id][status.value] = count
    return counts


def _counts_words(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))


def _buttons(bolt: AsyncApp, wiring: BotWiring) -> None:
    async def approve(request: CommandRequest, body: dict[str, Any]) -> None:
        await approval_cards.approve(request, campaign_number(clicked_value(body)))

    async def reject(request: CommandRequest, body: dict[str, Any]) -> None:
        await campaign_modal.open_reject(request, campaign_number(clicked_value(body)))

    async def form(request: CommandRequest, body: dict[str, Any]) -> None:
        # The button sits on the thread's first message: its ts names the thread.
        await campaign_modal.open_form(request, thread=str((body.get("message") or {})["ts"]))

    wiring.button(bolt, approval_cards.APPROVE_ACTION, Action.APPROVE_CAMPAIGN, approve)
    wiring.button(bolt, approval_cards.REJECT_ACTION, Action.APPROVE_CAMPAIGN, reject)
    wiring.button(bolt, campaign_conversation.FORM_ACTION, Action.PLAN_CAMPAIGN, form)

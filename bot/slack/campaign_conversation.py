"""``/comms campaign new``: a thread that asks one question at a time, then shows the
preview and takes the planner's next move (change, test, schedule, send, cancel).

The conversation's step and answers live in the database (``Conversation``),
so a restarted bot picks the thread up where it was. The draft is created
as soon as its wedding, name and channels are known, and every later answer
edits it (audited), so the thread and the campaign never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.slack import campaign_ops, conversations
from bot.slack import campaign_questions as q
from bot.slack.approval_cards import request_approval
from bot.slack.campaign_lookup import previewed, show_preview
from bot.slack.campaign_views import audience_report
from bot.slack.conversations import Thread
from bot.slack.errors import UsageError
from bot.slack.requests import CommandRequest, Place, post
from bot.slack.router import BotWiring
from bot.slack.when import parse_when, spoken
from dispatch.editing import EDITABLE
from store.models import Wedding
from store.permissions import Action

FLOW = "campaign_new"
FORM_ACTION = "campaign_form"


async def weddings_of(request: CommandRequest) -> list[Wedding]:
    async with request.services.database.reading() as session:
        rows = await session.scalars(
            select(Wedding)
            .where(Wedding.organisation_id == request.caller.organisation.id)
            .order_by(Wedding.wedding_date, Wedding.id)
        )
        return list(rows)


async def start(request: CommandRequest) -> None:
    """Open the thread and ask the first question."""
    weddings = await weddings_of(request)
    if not weddings:
        raise UsageError(
            "There is no wedding yet to send a campaign for; add one first "
            "(see `/comms help wedding`)."
        )
    user = request.place.user_id
    opening = (
        f"<@{user}> is preparing a new campaign. I'll ask one question at a time in this "
        f"thread; only <@{user}> answers. Prefer one screen? Use the form button, or type "
        "`/comms campaign new form`."
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": opening}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": FORM_ACTION,
                    "text": {"type": "plain_text", "text": "Fill in a form instead"},
                    "value": "form",
                }
            ],
        },
    ]
    # A new thread of its own, even when asked inside another thread.
    ts = await post(request.client, request.place.channel_id, opening, blocks)
    answers: dict[str, Any] = {}
    step = "wedding"
    if len(weddings) == 1:
        answers["wedding_id"] = weddings[0].id
        step = "name"
    async with request.services.database.transaction() as session:
        thread = await conversations.start(
            session,
            organisation_id=request.caller.organisation.id,
            channel_id=request.place.channel_id,
            thread_ts=ts,
            user_id=user,
            flow=FLOW,
            step=step,
            answers=answers,
        )
    question = q.wedding_question(weddings) if step == "wedding" else q.NAME_QUESTION
    if len(weddings) == 1:
        question = f"This campaign is for {weddings[0].couple_names}. {question}"
    await post(request.client, thread.channel_id, question, thread_ts=thread.thread_ts)


async def answer_thread(
    wiring: BotWiring, client: AsyncWebClient, place: Place, text: str, _files: list[Any]
) -> bool:
    """A message in a thread: ours when a campaign conversation lives there."""
    assert place.thread_ts is not None
    async with wiring.services.database.reading() as session:
        thread = await conversations.open_in(session, place.channel_id, place.thread_ts)
    if thread is None or thread.flow != FLOW:
        return False
    if place.user_id != thread.user_id:
        await client.chat_postEphemeral(
            channel=place.channel_id,
            user=place.user_id,
            thread_ts=place.thread_ts,
            text=(
                f"Thanks! This conversation is <@{thread.user_id}>'s, so only their answers move "
                "it on. To start your own, type `/comms campaign new`."
            ),
        )
        return True
    caller = await wiring.caller(place)
    # Answers edit the draft: a planner who became a viewer meanwhile stops here.
    caller.require(Action.PLAN_CAMPAIGN)
    request = CommandRequest(wiring.services, client, caller, place, text.split(), text)
    await _step(request, thread, text.strip())
    return True


async def _step(request: CommandRequest, thread: Thread, answer: str) -> None:
    step = thread.step
    if step == "review" or step == "confirm_schedule":
        await _review(request, thread, answer)
        return
    if answer.lower() == "cancel":
        await _cancel(request, thread)
        return
    if step == "wedding":
        wedding = q.read_wedding(answer, await weddings_of(request))
        thread.answers["wedding_id"] = wedding.id
        await _next(request, thread, "name", q.NAME_QUESTION)
    elif step == "name":
        thread.answers["name"] = q.read_name(answer)
        await _next(request, thread, "channels", q.CHANNELS_QUESTION)
    elif step == "channels":
        channels = q.read_channels(answer)
        if thread.campaign_id is None:
            campaign = await campaign_ops.created(
                request,
                wedding_id=thread.answers["wedding_id"],
                name=thread.answers["name"],
                channels=channels,
            )
            thread.campaign_id = campaign.id
            await _save(request, thread)  # the thread is findable from the campaign at once
            note = f"Campaign {campaign.id} is saved as a draft. "
        else:
            await campaign_ops.edit(request, thread.campaign_id, {"channels": channels})
            note = ""
        await _next(request, thread, "audience", note + q.AUDIENCE_QUESTION)
    elif step == "audience":
        assert thread.campaign_id is not None
        audience = q.read_audience(answer)
        await campaign_ops.edit(request, thread.campaign_id, {"audience": audience})
        found = await previewed(request, thread.campaign_id)
        report = audience_report(found.preview)
        if thread.answers.pop("revising", False):
            await _say(request, thread, report)
            await _show(request, thread)
        else:
            await _next(request, thread, "content", report + "\n\n" + q.content_question())
    elif step == "content":
        try:
            choice = q.read_content(answer)
        except q.UnclearAnswer:
            if not q.looks_like_own_text(answer):
                raise
            await _own_text_typed(request, thread, answer)
            return
        await _content(request, thread, choice)
    elif step in ("own_subject", "own_email", "own_sms"):
        await _own(request, thread, step, answer)


async def _content(request: CommandRequest, thread: Thread, choice: str) -> None:
    assert thread.campaign_id is not None
    if choice != q.OWN:
        own: dict[str, Any] = dict.fromkeys(
            ("email_subject", "email_text", "email_html", "sms_text")
        )
        await campaign_ops.edit(request, thread.campaign_id, {"template_key": choice, **own})
        await _show(request, thread)
        return
    found = await previewed(request, thread.campaign_id)
    if "email" in found.campaign.channels:
        await _next(request, thread, "own_subject", q.SUBJECT_QUESTION)
    else:
        await _next(request, thread, "own_sms", q.SMS_QUESTION)


async def _own_text_typed(request: CommandRequest, thread: Thread, answer: str) -> None:
    """The text itself typed where a template was asked for: an SMS-only campaign
    takes it as its SMS text; one with email still needs a subject first."""
    assert thread.campaign_id is not None
    found = await previewed(request, thread.campaign_id)
    if "email" in found.campaign.channels:
        raise q.UnclearAnswer(q.own_text_first(list(found.campaign.channels)))
    await _own(request, thread, "own_sms", answer)


async def _own(request: CommandRequest, thread: Thread, step: str, answer: str) -> None:
    assert thread.campaign_id is not None
    if step == "own_subject":
        thread.answers["email_subject"] = q.read_text(answer, "subject")
        await _next(request, thread, "own_email", q.EMAIL_QUESTION)
        return
    found = await previewed(request, thread.campaign_id)
    if step == "own_email":
        thread.answers["email_text"] = q.read_text(answer, "email text")
        if "sms" in found.campaign.channels:
            await _next(request, thread, "own_sms", q.SMS_QUESTION)
            return
    else:
        thread.answers["sms_text"] = q.read_text(answer, "SMS text")
    email_text = thread.answers.pop("email_text", None)
    changes = {
        "template_key": None,
        "email_subject": thread.answers.pop("email_subject", None),
        "email_text": email_text,
        "email_html": q.html_of(email_text) if email_text else None,
        "sms_text": thread.answers.pop("sms_text", None),
    }
    await campaign_ops.edit(request, thread.campaign_id, changes)
    await _show(request, thread)


async def _review(request: CommandRequest, thread: Thread, answer: str) -> None:
    assert thread.campaign_id is not None
    campaign_id = thread.campaign_id
    words = answer.lower().split()
    pending = thread.answers.pop("pending_schedule", None)
    if thread.step == "confirm_schedule":
        thread.step = "review"
        if words[:1] == ["yes"] and pending:
            await _save(request, thread)
            await campaign_ops.edit(
                request, campaign_id, {"scheduled_at": datetime.fromisoformat(pending)}
            )
            await _request(request, campaign_id)
            return
        await _save(request, thread)
        if words[:1] in (["no"], []):
            await _say(request, thread, "Not scheduled. " + q.REVIEW_OPTIONS)
            return
    if words[:2] in (["change", "audience"], ["change", "text"]):
        found = await previewed(request, campaign_id)
        if found.campaign.state not in EDITABLE:
            await request.tell(
                f"Campaign {campaign_id} is {found.campaign.state.value}; it can no longer change."
            )
            return
        thread.answers["revising"] = True
        if words[1] == "audience":
            await _next(request, thread, "audience", q.AUDIENCE_QUESTION)
        else:
            await _next(request, thread, "content", q.content_question())
    elif words[:1] == ["test"]:
        await _say(request, thread, await campaign_ops.proof(request, campaign_id))
    elif words[:1] == ["schedule"]:
        found = await previewed(request, campaign_id)
        when = answer.split(None, 1)[1] if len(words) > 1 else ""
        moment = parse_when(when, found.zone, request.services.clock())
        thread.answers["pending_schedule"] = moment.isoformat()
        await _next(
            request,
            thread,
            "confirm_schedule",
            f"Schedule campaign {campaign_id} for {spoken(moment, found.zone)}?"
            f"{campaign_ops.quiet_hours_note(found.campaign, moment, found.zone)} Answer `yes` "
            "to schedule it and ask for approval, or `no` to leave it unscheduled.",
        )
    elif words[:2] == ["send", "now"]:
        found = await previewed(request, campaign_id)
        if found.campaign.scheduled_at is not None:
            await campaign_ops.edit(request, campaign_id, {"scheduled_at": None})
        await _request(request, campaign_id)
    elif words[:1] == ["preview"]:
        await _show(request, thread)
    elif words[:1] == ["cancel"]:
        await _cancel(request, thread)
    else:
        await request.tell(f"I did not understand “{answer}”. " + q.REVIEW_OPTIONS)


async def _request(request: CommandRequest, campaign_id: int) -> None:
    await request_approval(request, campaign_id)


async def _cancel(request: CommandRequest, thread: Thread) -> None:
    if thread.campaign_id is not None:
        said = await campaign_ops.cancel(request, thread.campaign_id)
    else:
        said = "Cancelled; nothing was saved."
    await _save(request, thread, ended=True)
    await _say(request, thread, said)


async def _show(request: CommandRequest, thread: Thread) -> None:
    assert thread.campaign_id is not None
    thread.step = "review"
    await _save(request, thread)
    await show_preview(request, thread.campaign_id, (thread.channel_id, thread.thread_ts))
    await _say(request, thread, q.REVIEW_OPTIONS)


async def _next(request: CommandRequest, thread: Thread, step: str, question: str) -> None:
    thread.step = step
    await _save(request, thread)
    await _say(request, thread, question)


async def _say(request: CommandRequest, thread: Thread, text: str) -> None:
    await post(request.client, thread.channel_id, text, thread_ts=thread.thread_ts)


async def _save(request: CommandRequest, thread: Thread, *, ended: bool = False) -> None:
    async with request.services.database.transaction() as session:
        await conversations.save(session, thread, ended=ended)

"""The one-screen campaign form (``views.open``), and the reason an approver gives
when rejecting. Invalid input is answered with ``response_action: errors``
naming the field, so nothing is created until every field reads well."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack import approval_cards, campaign_ops, conversations
from bot.slack import campaign_questions as q
from bot.slack.campaign_conversation import FLOW, weddings_of
from bot.slack.campaign_lookup import show_preview
from bot.slack.errors import UsageError
from bot.slack.requests import CommandRequest, form_metadata, post
from bot.slack.router import BotWiring
from dispatch.compose.builtin_templates import BUILTIN_TEMPLATES
from store.permissions import Action

FORM = "campaign_form"
REJECT = "campaign_reject_reason"
_OWN_FIELDS = ("email_subject", "email_text", "sms_text")


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text[:75]}, "value": value}


def _input(
    block: str, label: str, element: dict[str, Any], optional: bool = False, hint: str | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "type": "input",
        "block_id": block,
        "label": {"type": "plain_text", "text": label},
        "element": {**element, "action_id": block},
        "optional": optional,
    }
    if hint:
        found["hint"] = {"type": "plain_text", "text": hint[:2000]}
    return found


def _text(multiline: bool = False, placeholder: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline}
    if placeholder:
        element["placeholder"] = {"type": "plain_text", "text": placeholder}
    return element


async def open_form(request: CommandRequest, thread: str | None) -> None:
    if not request.place.trigger_id:
        raise UsageError(
            "The form opens from a slash command or a button; type "
            "`/comms campaign new form`, or use `/comms campaign new`."
        )
    weddings = await weddings_of(request)
    if not weddings:
        raise UsageError("There is no wedding yet to send a campaign for.")
    blocks: list[dict[str, Any]] = []
    if len(weddings) > 1:
        options = [_option(str(w.id), f"{w.couple_names} ({w.slug})") for w in weddings]
        blocks.append(_input("wedding", "Wedding", {"type": "static_select", "options": options}))
    templates = [_option(key, t.title) for key, t in BUILTIN_TEMPLATES.items()]
    blocks += [
        _input("name", "Campaign name (only your team sees it)", _text()),
        _input(
            "channels",
            "Send by",
            {
                "type": "radio_buttons",
                "options": [
                    _option("email", "Email"),
                    _option("sms", "SMS"),
                    _option("both", "Email and SMS"),
                ],
            },
        ),
        _input(
            "audience",
            "Audience (a segment; empty means everyone)",
            _text(placeholder="rsvp=pending group=family"),
            optional=True,
        ),
        _input(
            "template",
            "Message",
            {
                "type": "static_select",
                "options": [*templates, _option(q.OWN, "My own text (below)")],
            },
        ),
        _input("email_subject", "Own text: email subject", _text(), optional=True),
        _input(
            "email_text",
            "Own text: email text",
            _text(multiline=True),
            optional=True,
            hint=q.tokens_note(),
        ),
        _input(
            "sms_text",
            "Own text: SMS text",
            _text(multiline=True),
            optional=True,
            hint="Your sender name goes first and “Reply STOP to opt out.” last by itself.",
        ),
    ]
    metadata = {"channel": request.place.channel_id, "thread": thread}
    await request.client.views_open(
        trigger_id=request.place.trigger_id,
        view={
            "type": "modal",
            "callback_id": FORM,
            "title": {"type": "plain_text", "text": "New campaign"},
            "submit": {"type": "plain_text", "text": "Preview"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps(metadata),
            "blocks": blocks,
        },
    )


async def open_reject(request: CommandRequest, campaign_id: int) -> None:
    assert request.place.trigger_id is not None  # buttons always carry one
    metadata = {"campaign": campaign_id, "channel": request.place.channel_id}
    await request.client.views_open(
        trigger_id=request.place.trigger_id,
        view={
            "type": "modal",
            "callback_id": REJECT,
            "title": {"type": "plain_text", "text": f"Reject campaign {campaign_id}"},
            "submit": {"type": "plain_text", "text": "Reject"},
            "close": {"type": "plain_text", "text": "Back"},
            "private_metadata": json.dumps(metadata),
            "blocks": [
                _input("reason", "Why? The author reads this and fixes it.", _text(True)),
            ],
        },
    )


def _values(body: dict[str, Any]) -> dict[str, str]:
    read: dict[str, str] = {}
    for block, actions in body["view"]["state"]["values"].items():
        for item in actions.values():
            chosen = item.get("selected_option")
            value = chosen["value"] if chosen else item.get("value")
            read[block] = str(value or "").strip()
    return read


def _check_form(values: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """(errors by field, the campaign's values)."""
    errors: dict[str, str] = {}
    campaign: dict[str, Any] = {}
    for block, read in (
        ("name", q.read_name),
        ("channels", q.read_channels),
        ("audience", q.read_audience),
        ("template", q.read_content),
    ):
        try:
            campaign[block] = read(values.get(block, "") or ("all" if block == "audience" else ""))
        except q.UnclearAnswer as error:
            errors[block] = str(error)[:150]
    if errors:
        return errors, campaign
    choice = campaign.pop("template")
    if choice != q.OWN:
        campaign["template_key"] = choice
        return errors, campaign
    needed = (["email_subject", "email_text"] if "email" in campaign["channels"] else []) + (
        ["sms_text"] if "sms" in campaign["channels"] else []
    )
    for field in needed:
        if not values.get(field):
            errors[field] = "Your own text needs this, or choose a template above."
    for field in _OWN_FIELDS:
        campaign[field] = values.get(field) or None
    if campaign["email_text"]:
        campaign["email_html"] = q.html_of(campaign["email_text"])
    campaign["template_key"] = None
    return errors, campaign


def register(bolt: AsyncApp, wiring: BotWiring) -> None:
    def check_campaign(body: dict[str, Any]) -> dict[str, str]:
        return _check_form(_values(body))[0]

    async def submitted(request: CommandRequest, body: dict[str, Any]) -> None:
        values = _values(body)
        campaign = _check_form(values)[1]
        metadata = form_metadata(body)
        await _create(request, metadata.get("thread"), values.get("wedding"), campaign)

    def check_reason(body: dict[str, Any]) -> dict[str, str]:
        return {} if _values(body).get("reason") else {"reason": "Say why, for the author."}

    async def rejected(request: CommandRequest, body: dict[str, Any]) -> None:
        reason = _values(body)["reason"]
        campaign_id = int(form_metadata(body)["campaign"])
        await approval_cards.reject(request, campaign_id, reason)

    wiring.form(bolt, FORM, Action.PLAN_CAMPAIGN, check_campaign, submitted)
    wiring.form(bolt, REJECT, Action.APPROVE_CAMPAIGN, check_reason, rejected)


async def _create(
    request: CommandRequest, thread_ts: str | None, wedding: str | None, values: dict[str, Any]
) -> None:
    weddings = await weddings_of(request)
    chosen = next((w for w in weddings if str(w.id) == wedding), weddings[0])
    place = request.place
    if thread_ts is None:
        thread_ts = await post(
            request.client,
            place.channel_id,
            f"<@{place.user_id}> prepared a campaign for {chosen.couple_names} with the form; "
            "its preview is in this thread.",
        )
    async with request.services.database.reading() as session:
        thread = await conversations.open_in(session, place.channel_id, thread_ts)
    if thread is not None and thread.campaign_id is not None:
        await campaign_ops.edit(request, thread.campaign_id, values)
        campaign_id = thread.campaign_id
    else:
        campaign_id = (await campaign_ops.created(request, wedding_id=chosen.id, **values)).id
    async with request.services.database.transaction() as session:
        if thread is None:
            thread = await conversations.start(
                session,
                organisation_id=request.caller.organisation.id,
                channel_id=place.channel_id,
                thread_ts=thread_ts,
                user_id=place.user_id,
                flow=FLOW,
                step="review",
                campaign_id=campaign_id,
            )
        else:
            thread.campaign_id, thread.step = campaign_id, "review"
            await conversations.save(session, thread)
    await show_preview(request, campaign_id, (place.channel_id, thread_ts))
    await post(request.client, place.channel_id, q.REVIEW_OPTIONS, thread_ts=thread_ts)

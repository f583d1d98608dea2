"""What planners do to a campaign from Slack — preview, edit, test, schedule, cancel,
pause, resume, retry — shared by typed commands, thread answers and buttons.

Each operation does its work through the dispatch and store services and says
plainly what happened; news that concerns everybody goes to the campaign's
thread (the conversation it was made in), refusals to the person alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.slack.approval_cards import withdraw_cards
from bot.slack.campaign_lookup import announce, load, previewed
from bot.slack.campaign_views import schedule_words
from bot.slack.errors import SlackBotError, UsageError
from bot.slack.requests import CommandRequest
from bot.slack.when import parse_when, spoken
from dispatch import control
from dispatch.compose.quiet_hours import guest_zones, in_quiet_hours
from dispatch.editing import Edited, edit_campaign
from dispatch.proof_send import NowhereToTest, send_proof
from store.enums import CampaignState, Channel
from store.models import Campaign, Member
from store.repositories.campaigns import CampaignRepository

S = CampaignState


class NotNow(SlackBotError):
    """The campaign is in a state where that cannot be done."""


async def edit(request: CommandRequest, campaign_id: int, changes: Mapping[str, Any]) -> Edited:
    """Change the campaign (audited); says in its thread when that undid an approval."""
    caller = request.caller
    async with request.services.database.transaction() as session:
        edited = await edit_campaign(
            session, campaign_id, caller.organisation.id, caller.actor, changes
        )
    if edited.undone == CampaignState.APPROVED:
        why = (
            f"Campaign {campaign_id} changed after it was approved, so the approval no longer "
            "holds: it is a draft again and needs a new approval before anything is sent."
        )
    elif edited.undone == CampaignState.PENDING_APPROVAL:
        why = (
            f"Campaign {campaign_id} changed while it waited for approval, so the request was "
            "withdrawn: it is a draft again. Request approval again when it is ready."
        )
    else:
        return edited
    await withdraw_cards(request, campaign_id, why)
    await announce(request, campaign_id, why)
    return edited


async def schedule(request: CommandRequest, campaign_id: int, when: str) -> str:
    found = await previewed(request, campaign_id)
    moment = parse_when(when, found.zone, request.services.clock())
    await edit(request, campaign_id, {"scheduled_at": moment})
    return (
        f"Campaign {campaign_id} is scheduled for {spoken(moment, found.zone)}."
        f"{quiet_hours_note(found.campaign, moment, found.zone)}"
    )


async def day_of(request: CommandRequest, campaign_id: int, words: list[str]) -> str:
    """Mark or unmark day-of logistics: texts that may go in quiet hours. A content
    change like any other (audited; it voids an approval)."""
    if [w.lower() for w in words] not in (["on"], ["off"]):
        raise UsageError("Usage: `/comms campaign day-of 3 on` (or `off`).")
    on = words[0].lower() == "on"
    await edit(request, campaign_id, {"day_of_logistics": on})
    if on:
        return (
            f"Campaign {campaign_id} is marked as day-of logistics: its texts may go at any "
            "hour, quiet hours (21:00–08:00) included. Keep it for what cannot wait."
        )
    return (
        f"Campaign {campaign_id} is no longer day-of logistics: texts due in quiet hours "
        "(21:00–08:00) wait until 08:00 each guest's time."
    )


def quiet_hours_note(campaign: Campaign, moment: datetime, zone: str) -> str:
    """A warning, said before anything waits, when texts are scheduled for the
    night where the wedding is (the preview counts each guest in their own zone)."""
    if Channel.SMS.value not in campaign.channels or campaign.day_of_logistics:
        return ""
    if not in_quiet_hours(moment, guest_zones(None, None, zone)):
        return ""
    return (
        " Note: that is within quiet hours (21:00–08:00) where the wedding is, so the "
        "texts will wait until 08:00 each guest's time — pick a daytime hour, or, if it "
        f"cannot wait, mark it as day-of logistics: `/comms campaign day-of {campaign.id} on`."
    )


async def proof(request: CommandRequest, campaign_id: int) -> str:
    """The real message to the asker's own email and/or phone; says where it went."""
    member = await _member(request)
    try:
        sent = await send_proof(request.services.runtime, campaign_id, member)
    except NowhereToTest as error:
        # Told to the asker alone (the router answers privately), with the way out.
        raise NowhereToTest(
            f"{error} Add yours with `/comms me email you@example.com` or "
            "`/comms me phone +1 201 555 0100` (see `/comms me`)."
        ) from None
    lines = []
    for each in sent:
        what = "email" if each.channel == Channel.EMAIL else "text"
        if each.accepted:
            lines.append(f"Sent a test {what} to {each.address} (yours, and nobody else's).")
        else:
            lines.append(f"The test {what} to {each.address} failed: {each.error}")
    return "\n".join(lines)


async def _member(request: CommandRequest) -> Member:
    async with request.services.database.reading() as session:
        member = await session.get(Member, request.caller.member.id)
    assert member is not None  # the caller was resolved a moment ago
    return member


async def cancel(request: CommandRequest, campaign_id: int) -> str:
    await _check(request, campaign_id, set(S) - {S.COMPLETED, S.FAILED, S.CANCELLED}, "cancelled")
    stopped = await control.cancel(request.services.runtime, campaign_id, request.caller.actor)
    if stopped:
        return (
            f"Campaign {campaign_id} cancelled: {stopped} message{'s' if stopped != 1 else ''} "
            "not yet sent will not go out."
        )
    return f"Campaign {campaign_id} cancelled; nothing more will be sent."


async def pause(request: CommandRequest, campaign_id: int) -> str:
    await _check(request, campaign_id, {S.SENDING}, "paused")
    await control.pause(request.services.runtime, campaign_id, request.caller.actor)
    return (
        f"Campaign {campaign_id} paused: messages not yet sent wait until "
        f"`/comms campaign resume {campaign_id}`."
    )


async def resume(request: CommandRequest, campaign_id: int) -> str:
    await _check(request, campaign_id, {S.PAUSED}, "resumed")
    await control.resume(request.services.runtime, campaign_id, request.caller.actor)
    return f"Campaign {campaign_id} resumed: sending the messages that were waiting."


async def retry(request: CommandRequest, campaign_id: int) -> str:
    await _check(request, campaign_id, {S.COMPLETED, S.FAILED}, "retried")
    # With nothing failed, control refuses (NothingToRetry) and the person is told so.
    count = await control.retry_failed(request.services.runtime, campaign_id, request.caller.actor)
    return f"Campaign {campaign_id}: sending the {count} failed message(s) again."


async def _check(
    request: CommandRequest, campaign_id: int, allowed: set[CampaignState], done: str
) -> Campaign:
    async with request.services.database.reading() as session:
        campaign = await load(session, request.caller.organisation.id, campaign_id)
    if campaign.state not in allowed:
        which = " or ".join(sorted(s.value.replace("_", " ") for s in allowed))
        raise NotNow(
            f"Campaign {campaign_id} is {campaign.state.value.replace('_', ' ')}; only a "
            f"campaign that is {which} can be {done}."
        )
    return campaign


async def created(request: CommandRequest, **values: Any) -> Campaign:
    caller = request.caller
    async with request.services.database.transaction() as session:
        return await CampaignRepository(session).create(
            caller.actor,
            organisation_id=caller.organisation.id,
            created_by_member_id=caller.member.id,
            **values,
        )


def when_words(campaign: Campaign, zone: str) -> str:
    return schedule_words(campaign, zone)

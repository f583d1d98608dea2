"""``/comms campaign delete N`` and ``/comms campaign restore N``.

Deleting is soft (store/repositories/campaign_deletion.py): planners may
delete a draft or a finished campaign; one that may still send must be
cancelled first. Restoring reads the deletion back from the audit trail and
needs an owner or admin, so a planner's mistake is undone by someone who
can see the whole organisation.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.campaign_lookup import NotThatCampaign, campaign_number
from bot.slack.command_table import Command
from bot.slack.errors import SlackBotError
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from store.errors import CampaignDeleted, NotDeletable, NotFound, NotRestorable
from store.permissions import Action
from store.repositories.campaign_deletion import CampaignDeletion, DeletedCampaign

GROUP = "Campaigns"


class CannotDelete(SlackBotError):
    """The campaign may still send, or is already deleted."""


class CannotRestore(SlackBotError):
    """The campaign is not deleted, or its deletion is not in the audit trail."""


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    wiring.table.add(
        Command(
            ("campaign", "delete"),
            "<number>",
            "remove a draft or finished campaign from lists and figures (an admin can restore it)",
            "/comms campaign delete 3",
            GROUP,
            Action.PLAN_CAMPAIGN,
            delete,
        )
    )
    wiring.table.add(
        Command(
            ("campaign", "restore"),
            "[number]",
            "bring a deleted campaign back from the audit trail (no number: list deleted ones)",
            "/comms campaign restore 3",
            GROUP,
            Action.RESTORE_CAMPAIGN,
            restore,
        )
    )


async def delete(request: CommandRequest) -> None:
    campaign_id = _number(request, "delete")
    caller = request.caller
    try:
        async with request.services.database.transaction() as session:
            campaign = await CampaignDeletion(session).delete(
                campaign_id, caller.organisation.id, caller.actor
            )
    except NotDeletable as refused:
        state = refused.state.replace("_", " ")
        raise CannotDelete(
            f"Campaign {campaign_id} is {state}, so it may still send: cancel it first with "
            f"`/comms campaign cancel {campaign_id}`, then delete it. Nothing was changed."
        ) from None
    except CampaignDeleted:
        raise CannotDelete(
            f"Campaign {campaign_id} is already deleted; `/comms campaign restore "
            f"{campaign_id}` brings it back."
        ) from None
    except NotFound:
        raise _no_such(campaign_id) from None
    await request.say(
        f"<@{caller.member.slack_user_id}> deleted campaign {campaign_id} “{campaign.name}”: "
        "it no longer shows in lists, figures or commands; the record of its messages is kept. "
        f"An owner or admin can bring it back with `/comms campaign restore {campaign_id}`."
    )


async def restore(request: CommandRequest) -> None:
    caller = request.caller
    if not request.arguments:
        async with request.services.database.reading() as session:
            deleted = await CampaignDeletion(session).deleted(caller.organisation.id)
        await request.say(_deleted_list(deleted))
        return
    campaign_id = _number(request, "restore")
    try:
        async with request.services.database.transaction() as session:
            campaign = await CampaignDeletion(session).restore(
                campaign_id, caller.organisation.id, caller.actor
            )
    except NotRestorable as refused:
        text = str(refused)
        raise CannotRestore(text[:1].upper() + text[1:] + ".") from None
    except NotFound:
        raise _no_such(campaign_id) from None
    state = campaign.state.value.replace("_", " ")
    await request.say(
        f"<@{caller.member.slack_user_id}> restored campaign {campaign_id} “{campaign.name}” "
        f"from the audit trail: it is {state} again, as it was when it was deleted."
    )


def _number(request: CommandRequest, verb: str) -> int:
    if not request.arguments:
        raise NotThatCampaign(f"Which campaign? For example `/comms campaign {verb} 3`.")
    return campaign_number(request.arguments[0])


def _no_such(campaign_id: int) -> NotThatCampaign:
    return NotThatCampaign(
        f"There is no campaign {campaign_id}. `/comms campaign list` shows them."
    )


def _deleted_list(deleted: list[DeletedCampaign]) -> str:
    if not deleted:
        return "No campaign is deleted."
    lines = ["Deleted campaigns (restore one with `/comms campaign restore N`):"]
    for each in deleted:
        who = each.deleted_by.removeprefix("slack:")
        by = f" by <@{who}>" if each.deleted_by.startswith("slack:") else ""
        lines.append(
            f"• {each.id}. {each.name} — {each.state.value.replace('_', ' ')}, deleted{by} "
            f"on {each.deleted_at:%Y-%m-%d %H:%M} UTC"
        )
    return "\n".join(lines)

"""Soft-deleting campaigns and restoring them from the audit trail: typed in Slack, seen
(or not) in lists, figures, commands and the operator API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from handlers.api_tokens import ApiTokens
from handlers.app import create_app
from store.audit import Actor
from store.database import Database
from store.enums import CampaignState, Channel, Role
from store.errors import CampaignDeleted, NotDeletable, NotRestorable
from store.models import AuditEntry, Campaign, Delivery
from store.models.base import utcnow
from store.repositories.business_figures import BusinessFigures, Scope
from store.repositories.campaign_deletion import CampaignDeletion
from store.repositories.campaigns import CampaignRepository
from tests.campaign_conversation_steps import count, to_preview
from tests.dispatch_harness import PLANNER, draft_for_approval, make_guests
from tests.slack_harness import SlackBot
from tests.web_harness import JWT_SECRET, ClientFactory, app_settings

ADMIN = Actor("slack", "U_ADMIN")


async def _campaign(database: Database, campaign_id: int) -> Campaign:
    async with database.reading() as session:
        campaign = await session.get(Campaign, campaign_id)
    assert campaign is not None
    return campaign


async def test_a_planner_deletes_a_draft_and_an_admin_restores_it(bot: SlackBot) -> None:
    walked = await to_preview(bot)
    n = walked.campaign_id
    await bot.command(f"campaign delete {n}", user="U_VIEWER")
    assert "you need the owner, admin or planner role" in await bot.told(
        "To prepare, test, schedule, pause, cancel or delete campaigns", user="U_VIEWER"
    )

    await bot.command(f"campaign delete {n}")
    deleted = await bot.said(f"<@U_PLANNER> deleted campaign {n} “RSVP reminder, May”")
    assert f"`/comms campaign restore {n}`" in deleted["text"]
    assert (await _campaign(bot.database, n)).deleted_at is not None

    # Gone from the list, every command and the conversation's thread.
    await bot.command("campaign list")
    await bot.said("No campaigns yet.")
    for typed in (f"campaign show {n}", f"campaign preview {n}", f"campaign cancel {n}"):
        await bot.command(typed)
    await bot.wait_for(
        lambda: sum(f"Campaign {n} was deleted" in t for t in bot.fake.ephemerals()) >= 3
    )
    await bot.message("change audience", thread_ts=walked.thread_ts)
    await bot.wait_for(
        lambda: sum(f"Campaign {n} was deleted" in t for t in bot.fake.ephemerals()) >= 4
    )
    await bot.command(f"campaign delete {n}")
    await bot.told(f"Campaign {n} is already deleted")

    # Restoring is for owners and admins; without a number it lists what can be restored.
    await bot.command(f"campaign restore {n}")
    await bot.told(
        "To restore a deleted campaign you need the owner or admin role; you are a planner"
    )
    await bot.command("campaign restore", user="U_OWNER")
    listed = await bot.said("Deleted campaigns (restore one with")
    assert f"• {n}. RSVP reminder, May — draft, deleted by <@U_PLANNER> on" in listed["text"]

    await bot.command(f"campaign restore {n}", user="U_OWNER")
    restored = await bot.said(f"<@U_OWNER> restored campaign {n}")
    assert "from the audit trail: it is draft again" in restored["text"]
    await bot.command("campaign list")
    await bot.said(f"{n}. RSVP reminder, May — draft")
    await bot.command(f"campaign restore {n}", user="U_OWNER")
    await bot.told(f"Campaign {n} is not deleted; there is nothing to restore.")

    async with bot.database.reading() as session:
        trail = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_type == "campaign", AuditEntry.entity_id == str(n))
                .where(AuditEntry.action.in_(("campaign.deleted", "campaign.restored")))
                .order_by(AuditEntry.id)
            )
        )
    assert [(e.action, e.actor) for e in trail] == [
        ("campaign.deleted", "slack:U_PLANNER"),
        ("campaign.restored", "slack:U_OWNER"),
    ]
    assert (trail[0].before or {})["state"] == "draft"
    assert trail[1].after == {"deleted_at": None, "state": "draft", "from_audit_entry": trail[0].id}


async def test_a_campaign_that_may_still_send_must_be_cancelled_first(bot: SlackBot) -> None:
    walked = await to_preview(bot, channels="sms", audience="group=family")
    n = walked.campaign_id
    await bot.command(f"campaign schedule {n} in 3 days")
    await bot.said(f"Campaign {n} is scheduled for")
    await bot.command(f"campaign request-approval {n}")
    await bot.said("Approval needed")
    await bot.command(f"campaign approve {n}", user="U_APPROVER")
    await bot.wait_for(lambda: count(bot, "approved by <@U_APPROVER>") >= 2)
    state = (await _campaign(bot.database, n)).state

    await bot.command(f"campaign delete {n}")
    refused = await bot.told(f"Campaign {n} is {state.value}, so it may still send")
    assert f"cancel it first with `/comms campaign cancel {n}`" in refused
    assert "Nothing was changed." in refused
    unchanged = await _campaign(bot.database, n)
    assert (unchanged.state, unchanged.deleted_at) == (state, None)

    await bot.command(f"campaign cancel {n}")
    await bot.wait_for(lambda: count(bot, f"Campaign {n} cancelled") >= 1)
    async with bot.database.reading() as session:
        deliveries_before = list(
            await session.execute(
                select(Delivery.id, Delivery.status, Delivery.updated_at)
                .where(Delivery.campaign_id == n)
                .order_by(Delivery.id)
            )
        )
    await bot.command(f"campaign delete {n}")
    await bot.said(f"deleted campaign {n}")
    async with bot.database.reading() as session:
        deliveries_after = list(
            await session.execute(
                select(Delivery.id, Delivery.status, Delivery.updated_at)
                .where(Delivery.campaign_id == n)
                .order_by(Delivery.id)
            )
        )
    assert deliveries_after == deliveries_before  # the record of its messages is untouched
    await bot.command(f"stats campaign {n}")
    await bot.told(f"Campaign {n} was deleted")
    await bot.command("stats")
    figures = await bot.said(": figures")
    assert "• Campaigns: none yet." in figures["text"]


async def test_the_store_keeps_deleted_campaigns_out_and_restores_only_what_it_recorded(
    database: Database,
) -> None:
    organisation_id, wedding_id, planner, _ = await make_guests(database, 2)
    waiting = await draft_for_approval(database, organisation_id, wedding_id, planner)
    async with database.transaction() as session:
        draft = (
            await CampaignRepository(session).create(
                PLANNER,
                organisation_id=organisation_id,
                wedding_id=wedding_id,
                name="Save the date",
                channels=[Channel.EMAIL],
            )
        ).id
    async with database.transaction() as session:
        with pytest.raises(NotDeletable, match="pending approval: a campaign that may still send"):
            await CampaignDeletion(session).delete(waiting, organisation_id, ADMIN)
    async with database.transaction() as session:
        await CampaignDeletion(session).delete(draft, organisation_id, ADMIN)

    async with database.transaction() as session:
        campaigns = CampaignRepository(session)
        with pytest.raises(CampaignDeleted, match=f"campaign {draft} was deleted"):
            await campaigns.get(draft)
        with pytest.raises(CampaignDeleted):
            await campaigns.transition(draft, CampaignState.PENDING_APPROVAL, ADMIN)
        with pytest.raises(CampaignDeleted):
            await campaigns.update_content(draft, ADMIN, {"audience": "rsvp=pending"})
    async with database.reading() as session:
        by_state = await BusinessFigures(session, Scope(organisation_id)).campaigns_by_state()
    assert by_state == {CampaignState.PENDING_APPROVAL: 1}

    # A deletion the audit trail does not know (made behind the repository's back)
    # is not undone: restore reads the trail, not the row.
    async with database.transaction() as session:
        await session.execute(
            update(Campaign).where(Campaign.id == waiting).values(deleted_at=utcnow())
        )
    async with database.transaction() as session:
        with pytest.raises(NotRestorable, match="audit trail holds no usable record"):
            await CampaignDeletion(session).restore(waiting, organisation_id, ADMIN)
    async with database.transaction() as session:
        restored = await CampaignDeletion(session).restore(draft, organisation_id, ADMIN)
    assert (restored.state, restored.deleted_at) == (CampaignState.DRAFT, None)
    async with database.reading() as session:
        audited = await session.scalar(
            select(func.count()).where(
                AuditEntry.action.in_(("campaign.deleted", "campaign.restored"))
            )
        )
    assert audited == 2


async def test_the_operator_api_does_not_show_deleted_campaigns(
    aiohttp_client: ClientFactory, database: Database
) -> None:
    organisation_id, wedding_id, _, _ = await make_guests(database, 1)
    async with database.transaction() as session:
        campaign_id = (
            await CampaignRepository(session).create(
                PLANNER,
                organisation_id=organisation_id,
                wedding_id=wedding_id,
                name="Old draft",
                channels=[Channel.EMAIL],
            )
        ).id
        await CampaignDeletion(session).delete(campaign_id, organisation_id, ADMIN)
    url = database.url.render_as_string(hide_password=False)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(app_settings(url)))
    headers = {"Authorization": f"Bearer {ApiTokens([JWT_SECRET]).issue(Role.ADMIN)}"}
    status = await client.get(
        f"/api/communications/campaigns/{campaign_id}/status", headers=headers
    )
    assert status.status == 404
    assert (await status.json())["message"] == f"Campaign {campaign_id} was deleted."
    dashboard = await client.get("/api/admin/metrics/dashboard", headers=headers)
    assert (await dashboard.json())["campaigns"] == {"by_state": {}, "under_way": []}

"""``templates``, ``optouts`` and ``stats`` through ``POST /slack/events``."""

from __future__ import annotations

from sqlalchemy import select

from store.audit import Actor
from store.enums import Channel, DeliveryStatus, SuppressionReason
from store.models import Delivery, Organisation
from store.repositories.suppressions import SuppressionLedger
from tests.campaign_conversation_steps import to_preview
from tests.slack_harness import SlackBot


async def test_templates_list_the_tokens_with_a_rendered_example(bot: SlackBot) -> None:
    await bot.command("templates", user="U_VIEWER")
    message = await bot.said("Built-in templates")
    assert "`rsvp_reminder`" in message["text"]
    assert "first_name" in message["text"]
    assert "reads, for a guest called Jo Bloggs: Hi Jo, the shuttle to" in message["text"]


async def test_optouts_show_masked_addresses_and_counts_by_reason(bot: SlackBot) -> None:
    async with bot.database.transaction() as session:
        organisation = await session.scalar(select(Organisation))
        assert organisation is not None
        await SuppressionLedger(session).suppress(
            Actor("test"),
            organisation_id=organisation.id,
            channel=Channel.EMAIL,
            address="jane.doe@example.com",
            reason=SuppressionReason.UNSUBSCRIBE,
            source="unsubscribe_link",
        )
    await bot.command("optouts", user="U_VIEWER")
    listed = await bot.said("active opt-outs")
    assert "j•••@example.com (email) — unsubscribe" in listed["text"]
    assert "jane.doe" not in listed["text"]
    assert "•••• •••• 0139 (sms) — stop" in listed["text"]
    assert "stop 1, unsubscribe 1" in listed["text"]

    await bot.command("optouts email jane.doe@example", user="U_VIEWER")
    found = await bot.said("1 active email opt-out matching")
    assert "0139" not in found["text"]


async def test_stats_show_real_figures(bot: SlackBot) -> None:
    await bot.command("stats", user="U_VIEWER")
    message = await bot.said("figures")
    assert "Email: 0 sent today; last 7 days nothing sent" in message["text"]
    assert "Campaigns: none yet." in message["text"]


async def test_stats_tell_a_scheduled_campaigns_messages_from_those_ruled_out(
    bot: SlackBot,
) -> None:
    # Approval settles who will not get it (opted out, no address, no consent); nothing
    # of a scheduled campaign has left, so none of it reads as "finished".
    walked = await to_preview(bot, channels="sms")
    await bot.command(f"campaign schedule {walked.campaign_id} saturday 10am")
    await bot.said("is scheduled for")
    await bot.command(f"campaign request-approval {walked.campaign_id}")
    await bot.said("waiting for approval")
    await bot.command(f"campaign approve {walked.campaign_id}", user="U_APPROVER")
    await bot.said("approved by")
    async with bot.database.reading() as session:
        rows = list(await session.execute(select(Delivery.status)))
    waiting = sum(1 for (status,) in rows if status == DeliveryStatus.PENDING)
    ruled_out = len(rows) - waiting
    assert waiting > 0
    assert ruled_out > 0

    await bot.command("stats", user="U_VIEWER")
    message = await bot.said("figures")
    assert (
        f"“RSVP reminder, May”: scheduled, {waiting} messages to send, {ruled_out} not sent "
        "(opted out, no address or no consent)." in message["text"]
    )
    assert "finished" not in message["text"]

"""``stats``: the organisation's figures from the database — today's messages by channel,
the delivery rate of the last seven days, recent opt-outs, campaigns by state."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncApp

from bot.slack.access import READ
from bot.slack.command_table import Command
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from store.enums import Channel
from store.repositories.operations import OperationsQueries, campaigns_by_state

WEEK = timedelta(days=7)


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    wiring.table.add(
        Command(
            ("stats",),
            "",
            "messages sent today, delivery rates, recent opt-outs, campaigns by state",
            "/comms stats",
            "Campaigns",
            READ,
            "see the figures",
            show_stats,
        )
    )


def _start_of_day(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)


async def show_stats(request: CommandRequest) -> None:
    organisation = request.caller.organisation
    now = request.services.clock()
    async with request.services.database.reading() as session:
        queries = OperationsQueries(session, organisation.id)
        today = await queries.traffic(_start_of_day(now, organisation.timezone))
        week = await queries.traffic(now - WEEK)
        opt_outs = await queries.opt_outs(now - WEEK)
        states = await campaigns_by_state(session, organisation.id)
    lines = [f"*{organisation.name}: figures* (days in {organisation.timezone})"]
    for channel in Channel:
        name = "Email" if channel == Channel.EMAIL else "SMS"
        sent = week[channel]["sent"]
        rate = (
            f"{week[channel]['delivered'] / sent:.0%} delivered of {sent} sent"
            if sent
            else "nothing sent"
        )
        lines.append(
            f"• {name}: {today[channel]['sent']} sent today; last 7 days {rate}, "
            f"{week[channel]['failed']} failed."
        )
    total_opt_outs = sum(count for _, _, count in opt_outs)
    detail = ", ".join(
        f"{channel.value} {reason} {count}" for channel, reason, count in sorted(opt_outs)
    )
    lines.append(
        f"• Opt-outs in the last 7 days: {total_opt_outs}" + (f" ({detail})." if detail else ".")
    )
    if states:
        listed = ", ".join(f"{state.replace('_', ' ')} {n}" for state, n in sorted(states.items()))
        lines.append(f"• Campaigns: {listed}.")
    else:
        lines.append("• Campaigns: none yet.")
    await request.say("\n".join(lines))

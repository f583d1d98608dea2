"""``stats [wedding W | campaign N]``: the figures of the last seven days — sent today,
delivery rate per channel, opens and clicks where tracked, unsubscribes and
complaints, campaigns and their progress — and a chart of delivery over time.

The chart is a PNG for those who would rather look; the message says the
same figures in words, and the image carries them as its alt text.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from bot.slack.command_table import Command
from bot.slack.delivery_chart import delivery_chart
from bot.slack.errors import UsageError
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from bot.slack.wedding_lookup import find_wedding
from store.enums import CampaignState, Channel
from store.permissions import Action
from store.repositories.business_figures import (
    BusinessFigures,
    Progress,
    Scope,
    Summary,
    summarise,
)
from store.repositories.campaigns import CampaignRepository
from store.repositories.operations import MAX_ID, OperationsQueries

WEEK = timedelta(days=7)
USAGE = "Usage: `/comms stats`, `/comms stats wedding alex-and-sam` or `/comms stats campaign 12`."
# The chart's bucket: the smallest that leaves at most this many points.
_BUCKETS = tuple(timedelta(minutes=m) for m in (1, 5, 15, 60, 360, 1440))
_MAX_POINTS = 48
_NAMES = {Channel.EMAIL: "Email", Channel.SMS: "SMS"}


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    wiring.table.add(
        Command(
            ("stats",),
            "[wedding W | campaign N]",
            "sent today, delivery, opens and clicks, opt-outs, campaigns — and a chart",
            "/comms stats campaign 12",
            "Campaigns",
            Action.VIEW_STATS,
            show_stats,
        )
    )


def _start_of_day(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)


async def show_stats(request: CommandRequest) -> None:
    organisation = request.caller.organisation
    now = request.services.clock()
    words = [word.lower() for word in request.arguments]
    async with request.services.database.reading() as session:
        scope, heading, chart_since = await _scope(request, session, words, now)
        summary = await summarise(
            session, scope, now - WEEK, _start_of_day(now, organisation.timezone)
        )
        opt_outs = (
            await OperationsQueries(session, organisation.id).opt_outs(now - WEEK)
            if scope.wedding_id is None and scope.campaign_id is None
            else []
        )
        bucket = next((b for b in _BUCKETS if (now - chart_since) / b <= _MAX_POINTS), _BUCKETS[-1])
        starts, series = await BusinessFigures(session, scope).delivered_over_time(
            chart_since, now, bucket
        )
    lines = [f"*{heading}: figures* (last 7 days; today in {organisation.timezone})"]
    lines += _figure_lines(summary, organisation.email_tracking)
    if opt_outs:
        detail = ", ".join(f"{c.value} {reason} {n}" for c, reason, n in sorted(opt_outs))
        lines.append(f"• Opt-outs by reason: {detail}.")
    text = "\n".join(lines)
    await request.say(text)
    delivered = {channel: sum(counts) for channel, counts in series.items()}
    if not any(delivered.values()):
        await request.say(f"No chart: nothing was delivered since {chart_since:%d %b %H:%M} UTC.")
        return
    title = f"Delivered over time: {heading}"
    png = await asyncio.to_thread(delivery_chart, title, starts, series, bucket)
    words_of_chart = ", ".join(f"{_NAMES[c]} {n}" for c, n in delivered.items())
    alt = (
        f"Line chart, {title}, from {chart_since:%d %b %H:%M} UTC to now: "
        f"messages delivered — {words_of_chart}."
    )
    await request.client.files_upload_v2(
        channel=request.place.channel_id,
        thread_ts=request.place.thread_ts,
        filename="delivery.png",
        title=title,
        content=png,
        alt_txt=alt,
        initial_comment=f"Chart: {alt}",
    )


async def _scope(
    request: CommandRequest, session: AsyncSession, words: list[str], now: datetime
) -> tuple[Scope, str, datetime]:
    """The scope asked for, its heading, and where its chart starts."""
    organisation = request.caller.organisation
    day_ago = now - timedelta(days=1)
    if not words:
        return Scope(organisation_id=organisation.id), organisation.name, day_ago
    kind, rest = words[0], request.arguments[1:]
    if kind == "wedding" and len(rest) <= 1:
        wedding = await find_wedding(
            session, organisation.id, rest[0] if rest else None, request.place.channel_id
        )
        scope = Scope(organisation_id=organisation.id, wedding_id=wedding.id)
        return scope, wedding.couple_names, day_ago
    if kind == "campaign" and len(rest) == 1:
        raw = rest[0].lstrip("#")
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
            raise UsageError(f"“{rest[0]}” is not a campaign number. " + USAGE)
        campaign = await CampaignRepository(session).get(int(raw), organisation_id=organisation.id)
        scope = Scope(organisation_id=organisation.id, campaign_id=campaign.id)
        started = campaign.started_at or day_ago
        return scope, f"campaign {campaign.id} “{campaign.name}”", min(started, now)
    raise UsageError(USAGE)


def _figure_lines(summary: Summary, tracking: bool) -> list[str]:
    lines = []
    for channel in Channel:
        figures = summary.channels[channel]
        today = summary.sent_today[channel]
        if not figures.outcomes:
            lines.append(f"• {_NAMES[channel]}: {today} sent today; last 7 days nothing sent.")
            continue
        lines.append(
            f"• {_NAMES[channel]}: {today} sent today; last 7 days {figures.sent} sent, "
            f"delivery rate {_percent(figures.delivery_rate)} "
            f"({figures.failed} failed, {figures.delivered} confirmed delivered)."
        )
    engagement = summary.engagement
    if engagement.tracked:
        lines.append(
            f"• Emails opened {_percent(engagement.open_rate)}, clicked "
            f"{_percent(engagement.click_rate)} (of {engagement.tracked} tracked emails; "
            "link scanners not counted)."
        )
    else:
        why = "no tracked emails sent yet" if tracking else "admins: `/comms org set tracking on`"
        lines.append(f"• Opens and clicks: not tracked ({why}).")
    lines.append(
        f"• Unsubscribes: {summary.opt_outs} ({_percent(summary.unsubscribe_rate)} of messages "
        f"sent); complaints: {summary.complaints} ({_percent(summary.complaint_rate)} of emails)."
    )
    if summary.campaigns:
        listed = ", ".join(
            f"{state.value.replace('_', ' ')} {n}" for state, n in sorted(summary.campaigns.items())
        )
        lines.append(f"• Campaigns: {listed}.")
    else:
        lines.append("• Campaigns: none yet.")
    lines += [_progress_line(p) for p in summary.under_way]
    return lines


def _progress_line(p: Progress) -> str:
    head = f"• Campaign {p.campaign_id} “{p.name}”: {p.state.value.replace('_', ' ')}"
    if p.state == CampaignState.SCHEDULED:
        # Nothing has left yet: what is settled is what approval ruled out.
        return f"{head}, {p.total - p.finished} messages to send" + (
            f", {p.finished} not sent (opted out, no address or no consent)." if p.finished else "."
        )
    return f"{head}, {p.finished} of {p.total} deliveries finished" + (
        f" ({p.percent:g}%)." if p.percent is not None else "."
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"

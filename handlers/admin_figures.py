"""``GET /api/admin/errors`` and ``GET /api/admin/metrics/dashboard``: what went wrong
lately, and the business figures.

"Errors" are three things, newest first, with personal data redacted:
deliveries that failed (the provider's code and message), providers found
down (a circuit breaker opened), and requests this web process answered
with a 5xx — or a 4xx on a webhook, which means an integration is broken.
The last two concern the whole install, so a token limited to one
organisation sees only its own failed deliveries.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from handlers.api_guard import Caller
from handlers.errors import BadParameter
from handlers.keys import RECENT_ERRORS
from handlers.redaction import redact
from store.enums import Channel
from store.models import Event
from store.repositories.business_figures import Scope, Summary, summarise
from store.repositories.operations import OperationsQueries

MAX_ERRORS = 500
DASHBOARD_WINDOW = timedelta(hours=24)


async def recent_errors(
    request: web.Request, caller: Caller, queries: OperationsQueries
) -> dict[str, Any]:
    raw = request.query.get("limit", "50")
    limit = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else 0
    if not 1 <= limit <= MAX_ERRORS:
        raise BadParameter("limit", f"limit must be a whole number from 1 to {MAX_ERRORS}")
    errors: list[dict[str, Any]] = [
        {
            "kind": "delivery_failed",
            "delivery_id": f.delivery_id,
            "campaign_id": f.campaign_id,
            "organisation_id": f.organisation_id,
            "guest_id": f.guest_id,
            "channel": f.channel.value,
            "status": f.status.value,
            "provider": f.provider,
            "error_code": f.error_code,
            "error_message": redact(f.error_message) if f.error_message else None,
            "attempts": f.attempts,
            "at": f.at,
        }
        for f in await queries.recent_failures(limit)
    ]
    if caller.organisation is None:
        errors += await _outages(queries, limit)
        errors += [
            {
                "kind": "http",
                "method": e.method,
                "route": e.route,
                "status": e.status,
                "request_id": e.request_id,
                "at": e.at,
            }
            for e in request.app[RECENT_ERRORS].newest(limit)
        ]
    errors.sort(key=lambda error: error["at"], reverse=True)
    return {"limit": limit, "errors": errors[:limit]}


async def _outages(queries: OperationsQueries, limit: int) -> list[dict[str, Any]]:
    events = await queries.session.scalars(
        select(Event).where(Event.kind == "breaker.opened").order_by(Event.id.desc()).limit(limit)
    )
    return [
        {
            "kind": "provider_down",
            "provider": str(event.payload.get("provider", "")),
            "detail": redact(str(event.payload.get("reason", "the circuit breaker opened"))),
            "at": event.created_at,
        }
        for event in events
    ]


async def dashboard(
    _request: web.Request, caller: Caller, queries: OperationsQueries
) -> dict[str, Any]:
    now = datetime.now(UTC)
    since = now - DASHBOARD_WINDOW
    zone = ZoneInfo(caller.organisation.timezone if caller.organisation else "UTC")
    local = now.astimezone(zone)
    day_start = datetime.combine(local.date(), time(0), tzinfo=zone)
    summary = await summarise(
        queries.session, Scope(organisation_id=queries.organisation_id), since, day_start
    )
    traffic = await queries.traffic(since)
    opt_outs = await queries.opt_outs(since)
    by_channel = {channel.value: 0 for channel in Channel}
    by_reason: dict[str, int] = {}
    for channel, reason, count in opt_outs:
        by_channel[channel.value] += count
        by_reason[reason] = by_reason.get(reason, 0) + count
    rsvps = await queries.rsvp_counts()
    return {
        "organisation": caller.organisation.slug if caller.organisation else None,
        "window": {"from": since, "to": now, "hours": DASHBOARD_WINDOW // timedelta(hours=1)},
        "messages": {channel.value: figures for channel, figures in traffic.items()},
        "opt_outs": {
            "total": sum(by_channel.values()),
            "by_channel": by_channel,
            "by_reason": by_reason,
        },
        "rsvps": {
            "replies": await queries.rsvp_replies(since),
            "guests": {status.value: count for status, count in sorted(rsvps.items())},
        },
        "queue_size": await queries.waiting(),
        **business(summary),
    }


def business(summary: Summary) -> dict[str, Any]:
    """The figures of the dashboard's definitions (store/repositories/business_figures.py)."""
    engagement = summary.engagement
    return {
        "sent_today": {
            "since": summary.day_start,
            "total": sum(summary.sent_today.values()),
            **{channel.value: count for channel, count in summary.sent_today.items()},
        },
        "delivery": {
            channel.value: {
                "sent": figures.sent,
                "settled": figures.outcomes,
                "failed": figures.failed,
                "confirmed_delivered": figures.delivered,
                "delivery_rate": _rate(figures.delivery_rate),
            }
            for channel, figures in summary.channels.items()
        },
        "engagement": {
            "tracked_emails": engagement.tracked,
            "opened": engagement.opened,
            "clicked": engagement.clicked,
            "open_rate": _rate(engagement.open_rate),
            "click_rate": _rate(engagement.click_rate),
        },
        "unsubscribes": {"count": summary.opt_outs, "rate": _rate(summary.unsubscribe_rate)},
        "complaints": {"count": summary.complaints, "rate": _rate(summary.complaint_rate)},
        "campaigns": {
            "by_state": {state.value: n for state, n in sorted(summary.campaigns.items())},
            "under_way": [
                {
                    "id": p.campaign_id,
                    "name": p.name,
                    "state": p.state.value,
                    "deliveries": p.total,
                    "finished": p.finished,
                    "percent": p.percent,
                }
                for p in summary.under_way
            ],
        },
    }


def _rate(value: float | None) -> float | None:
    """A share as a fraction with four decimals (0.0312 is 3.12%); None: nothing to divide."""
    return None if value is None else round(value, 4)

"""The operator API under ``/api/``: JSON for people and scripts, behind a bearer JWT.

Each route declares its action in ``ROUTES``: ``communications/*`` is
``API_STATUS`` (every role), ``admin/*`` is ``API_ADMIN`` (owner or admin). A token
with an ``org`` claim sees that organisation only: anything else is "not found".
Tokens come from ``guestcomms token`` (handlers/api_tokens.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from dispatch.actors import SEND_QUEUE
from handlers.admin_figures import dashboard, recent_errors
from handlers.api_guard import Caller, Endpoint, guarded
from handlers.errors import BadParameter
from handlers.keys import SERVICES, SETTINGS
from store.addresses import AddressError, normalise_email, normalise_phone
from store.enums import Channel, DeliveryStatus
from store.errors import NotFound
from store.permissions import Action
from store.repositories.campaigns import CampaignRepository
from store.repositories.deliveries import FINAL, WAITING
from store.repositories.operations import MAX_ID, LedgerEntry, OperationsQueries

BROKER_TIMEOUT_SECONDS = 2.0
# What a bare number means when no organisation's country applies.
DEFAULT_COUNTRY = "US"


def register(router: web.UrlDispatcher) -> None:
    for path, action, endpoint in ROUTES:
        router.add_get(path, guarded(action, endpoint))


async def queue_status(
    request: web.Request, caller: Caller, queries: OperationsQueries
) -> dict[str, Any]:
    now = datetime.now(UTC)
    figures = await queries.queue(now)
    by_status = {status.value: 0 for status in WAITING}
    by_channel = {channel.value: {status.value: 0 for status in WAITING} for channel in Channel}
    for (channel, status), count in figures.counts.items():
        by_status[status.value] += count
        by_channel[channel.value][status.value] += count
    oldest = figures.oldest_created_at
    return {
        "organisation": _slug(caller),
        "waiting": sum(by_status.values()),
        "by_status": by_status,
        "by_channel": by_channel,
        "oldest_waiting": None
        if oldest is None
        else {"created_at": oldest, "age_seconds": round((now - oldest).total_seconds(), 1)},
        "expired_leases": figures.expired_leases,
        "broker": await _broker(request, caller),
    }


async def _broker(request: web.Request, caller: Caller) -> dict[str, Any]:
    if caller.organisation is not None:
        return {"backlog": None, "note": "the broker is shared by every organisation"}
    redis = request.app[SERVICES].redis
    if redis is None:
        return {
            "backlog": None,
            "note": "in-process broker (no REDIS_URL): only the database counts are known",
        }
    namespace = request.app[SETTINGS].dispatch.broker_namespace
    try:
        async with asyncio.timeout(BROKER_TIMEOUT_SECONDS):
            backlog = await redis_backlog(redis, namespace, SEND_QUEUE)
    except (RedisError, OSError, TimeoutError) as error:
        return {"backlog": None, "error": f"{type(error).__name__}: Redis did not answer"}
    return {"backlog": backlog, "queue": SEND_QUEUE}


async def redis_backlog(redis: Redis, namespace: str, queue: str) -> int:
    """Messages Dramatiq's Redis broker holds for ``queue``: queued, delayed or in work.

    Dramatiq keeps each message in a hash until it is acknowledged, one for
    the queue and one for its delay queue (brokers/redis/dispatch.lua); two
    HLENs are cheaper than its own qsize, which also walks every worker's acks.
    """
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hlen(f"{namespace}:{queue}.msgs")
        pipe.hlen(f"{namespace}:{queue}.DQ.msgs")
        ready, delayed = await pipe.execute()
    return int(ready) + int(delayed)


async def campaign_status(
    request: web.Request, caller: Caller, queries: OperationsQueries
) -> dict[str, Any]:
    raw = request.match_info["campaign_id"]
    if not (raw.isascii() and raw.isdigit()):
        raise BadParameter("id", f"the campaign id must be a whole number, not “{raw}”")
    campaign_id = int(raw)
    if campaign_id > MAX_ID:
        raise NotFound("campaign", campaign_id)
    campaign = await CampaignRepository(queries.session).get(
        campaign_id, organisation_id=queries.organisation_id
    )
    counts = await queries.campaign_counts(campaign.id)
    by_status = {status.value: 0 for status in DeliveryStatus}
    by_channel: dict[str, dict[str, int]] = {}
    for (channel, status), count in counts.items():
        by_status[status.value] += count
        channel_counts = by_channel.setdefault(channel.value, dict.fromkeys(by_status, 0))
        channel_counts[status.value] = count
    total = sum(by_status.values())
    finished = sum(by_status[status.value] for status in FINAL)
    return {
        "id": campaign.id,
        "name": campaign.name,
        "organisation_id": campaign.organisation_id,
        "wedding_id": campaign.wedding_id,
        "state": campaign.state.value,
        "channels": campaign.channels,
        "scheduled_at": campaign.scheduled_at,
        "started_at": campaign.started_at,
        "completed_at": campaign.completed_at,
        "deliveries": {"total": total, "by_status": by_status, "by_channel": by_channel},
        "progress": {
            "finished": finished,
            "waiting": sum(by_status[status.value] for status in WAITING),
            "percent": round(100 * finished / total, 1) if total else None,
        },
    }


async def suppressions(
    request: web.Request, caller: Caller, queries: OperationsQueries
) -> dict[str, Any]:
    raw_channel = request.query.get("channel", "")
    try:
        channel = Channel(raw_channel.strip().lower())
    except ValueError:
        raise BadParameter("channel", "channel must be sms or email") from None
    raw_address = request.query.get("address", "")
    if not raw_address.strip():
        raise BadParameter("address", "address is required: a phone number or an email address")
    try:
        if channel == Channel.EMAIL:
            address = normalise_email(raw_address)
        else:
            country = (
                caller.organisation.default_country
                if caller.organisation is not None
                else request.query.get("country", DEFAULT_COUNTRY)
            )
            address = normalise_phone(raw_address, country)
    except AddressError as error:
        raise BadParameter("address", str(error)) from None
    history = await queries.ledger_history(channel, address)
    active = sorted({e.organisation_slug for e in history if e.entry.lifted_at is None})
    return {
        "channel": channel.value,
        "address": address,
        "suppressed": bool(active),
        "suppressed_for": active,
        "history": [_entry(e) for e in history],
    }


def _entry(found: LedgerEntry) -> dict[str, Any]:
    entry = found.entry
    return {
        "organisation": found.organisation_slug,
        "active": entry.lifted_at is None,
        # The guest was erased: only the keyed hash of the address is kept.
        "erased": entry.address is None,
        "reason": str(entry.reason),
        "source": entry.source,
        "detail": entry.detail,
        "created_at": entry.created_at,
        "lifted_at": entry.lifted_at,
        "lifted_source": entry.lifted_source,
    }


def _slug(caller: Caller) -> str | None:
    return caller.organisation.slug if caller.organisation is not None else None


# Every route of the operator API with the action it needs (all are reads).
ROUTES: tuple[tuple[str, Action, Endpoint], ...] = (
    ("/api/communications/queue/status", Action.API_STATUS, queue_status),
    ("/api/communications/campaigns/{campaign_id}/status", Action.API_STATUS, campaign_status),
    ("/api/admin/errors", Action.API_ADMIN, recent_errors),
    ("/api/admin/metrics/dashboard", Action.API_ADMIN, dashboard),
    ("/api/admin/suppressions", Action.API_ADMIN, suppressions),
)

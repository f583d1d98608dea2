"""GET /api/health: what on-call and load balancers ask first.

``critical`` when something the product cannot work without is down (HTTP
503) or a P0/P1 alert fires; ``warning`` when it works but degraded (a
provider misconfigured, its circuit breaker open, a P2/P3 alert firing);
``healthy`` otherwise. Firing alerts are listed. A check of a service this
install does not use reads ``unconfigured`` (the console providers).

Breaker state comes from Redis when it is configured (where the workers keep
it); otherwise the workers' breakers live in their own processes, and the
last ``breaker.opened`` / ``breaker.closed`` event they wrote stands for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from dispatch.breaker import BreakerPolicy, RedisBreaker
from dispatch.settings import DispatchSettings
from handlers.keys import REQUEST_STATS, SERVICES, SETTINGS, Services
from store.database import Database
from store.enums import Channel
from store.repositories.alert_rules import FiringAlert, firing_alerts
from store.repositories.deliveries import DeliveryRepository
from store.repositories.operations import latest_breaker_changes

CHECK_TIMEOUT_SECONDS = 3.0
# Without these nothing can be sent or recorded.
ESSENTIAL = ("database", "redis")
CONSOLE = "console"
URGENT = ("P0", "P1")  # firing alerts that make the status critical


async def health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    dispatch = request.app[SETTINGS].dispatch
    providers = [_email_setup(dispatch), _sms_setup(dispatch)]
    (database_check, queue_size, alerts), redis_check, breakers = await asyncio.gather(
        _check_database(services.database),
        _check_redis(services.redis),
        _breakers(services, dispatch, [p.breaker_key for p in providers]),
    )
    checks: dict[str, dict[str, Any]] = {
        "database": database_check,
        "redis": redis_check,
        "email_service": _provider_check(providers[0], breakers),
        "sms_service": _provider_check(providers[1], breakers),
    }
    stats = request.app[REQUEST_STATS]
    status = _overall(checks, alerts)
    body = {
        "status": status,
        "checks": checks,
        "alerts": [
            {
                "rule": alert.rule_slug,
                "severity": alert.severity,
                "subject": alert.subject,
                "since": alert.since.isoformat(),
                "acknowledged": alert.acknowledged,
            }
            for alert in alerts
        ],
        "metrics": {
            "queue_size": queue_size,
            "error_rate": stats.error_rate_percent(),
            "response_time": stats.mean_response_ms(),
        },
    }
    # 503 only when this instance cannot serve (its database or Redis): a load
    # balancer must not take every instance away because a provider is down.
    unserviceable = any(checks[name]["status"] == "error" for name in ESSENTIAL)
    return web.json_response(body, status=503 if unserviceable else 200)


def _overall(checks: dict[str, dict[str, Any]], alerts: Sequence[FiringAlert]) -> str:
    """Critical: an essential service is down, or a P0/P1 alert fires; warning: any
    other failing check or firing alert."""
    failing = [name for name, check in checks.items() if check["status"] == "error"]
    if any(name in ESSENTIAL for name in failing) or any(
        alert.severity in URGENT for alert in alerts
    ):
        return "critical"
    return "warning" if failing or alerts else "healthy"


async def _check_database(
    database: Database,
) -> tuple[dict[str, Any], int | None, list[FiringAlert]]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), database.reading() as session:
            queue_size = await DeliveryRepository(session).count_waiting()
            alerts = await firing_alerts(session)
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        return {"status": "error", "error": _describe(error)}, None, []
    return {"status": "ok", "latency_ms": _elapsed_ms(started)}, queue_size, alerts


async def _check_redis(redis: Redis | None) -> dict[str, Any]:
    if redis is None:
        return {"status": "unconfigured"}
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await redis.ping()
    except (RedisError, OSError, TimeoutError) as error:
        return {"status": "error", "error": _describe(error)}
    return {"status": "ok", "latency_ms": _elapsed_ms(started)}


@dataclass(frozen=True, slots=True)
class ProviderSetup:
    """What the settings ask for, and what the dispatch layer will use because of them."""

    channel: Channel
    wanted: str
    provider: str  # as dispatch/providers/factory.py chooses it
    missing: tuple[str, ...] = ()

    @property
    def breaker_key(self) -> str:
        return f"{self.channel.value}:{self.provider}"  # as Runtime.provider_name


def _email_setup(settings: DispatchSettings) -> ProviderSetup:
    wanted = settings.email_provider
    missing: tuple[str, ...] = ()
    if wanted == "smtp" and not settings.smtp_host:
        missing = ("SMTP_HOST",)
    elif wanted == "resend" and not settings.resend_api_key:
        missing = ("RESEND_API_KEY",)
    return ProviderSetup(Channel.EMAIL, wanted, CONSOLE if missing else wanted, missing)


def _sms_setup(settings: DispatchSettings) -> ProviderSetup:
    if settings.twilio_configured:
        return ProviderSetup(Channel.SMS, "twilio", "twilio")
    sender = settings.twilio_messaging_service_sid or settings.twilio_from_number
    # The auth token alone chooses nothing: it also signs guests' replies, which is
    # all the console (``make run``) sets it for while its texts go to the outbox.
    if not (settings.twilio_account_sid or sender):
        return ProviderSetup(Channel.SMS, CONSOLE, CONSOLE)
    given = {
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token,
        "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER": sender,
    }
    missing = tuple(name for name, value in given.items() if not value)
    return ProviderSetup(Channel.SMS, "twilio", CONSOLE, missing)


def _provider_check(setup: ProviderSetup, breakers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    check: dict[str, Any] = {"status": "ok", "provider": setup.provider}
    if setup.missing:
        check["status"] = "error"
        check["missing"] = list(setup.missing)
        check["error"] = (
            f"{setup.wanted} is chosen but {', '.join(setup.missing)} is not set: "
            f"messages are written to the console outbox instead"
        )
    elif setup.provider == CONSOLE:
        check["status"] = "unconfigured"
    breaker = breakers.get(setup.breaker_key, {"state": "unknown"})
    check["breaker"] = breaker
    if breaker["state"] == "open" and "error" not in check:
        check["status"] = "error"
        check["error"] = (
            f"circuit breaker {setup.breaker_key} is open after repeated failures; "
            f"sending resumes with a probe at {breaker['retry_at']}"
        )
    return check


async def _breakers(
    services: Services, settings: DispatchSettings, keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            if services.redis is not None:
                return await _breakers_in_redis(services.redis, settings, keys)
            return await _breakers_from_events(services.database, settings, keys)
    except (RedisError, SQLAlchemyError, OSError, TimeoutError) as error:
        return {key: {"state": "unknown", "error": _describe(error)} for key in keys}


async def _breakers_in_redis(
    redis: Redis, settings: DispatchSettings, keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    policy = BreakerPolicy(
        failure_rate=settings.breaker_failure_rate,
        min_calls=settings.breaker_min_calls,
        window_seconds=settings.breaker_window_seconds,
        open_seconds=settings.breaker_open_seconds,
    )
    breaker = RedisBreaker(redis, policy, settings.broker_namespace)
    states: dict[str, dict[str, Any]] = {}
    for key in keys:
        decision = await breaker.peek(key)
        states[key] = {"state": decision.state, "source": "redis"}
        if decision.retry_at is not None:
            states[key]["retry_at"] = datetime.fromtimestamp(decision.retry_at, UTC).isoformat()
    return states


async def _breakers_from_events(
    database: Database, settings: DispatchSettings, keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    async with database.reading() as session:
        latest = await latest_breaker_changes(session, keys)
    now = datetime.now(UTC)
    states: dict[str, dict[str, Any]] = {}
    for key in keys:
        event = latest.get(key)
        if event is None or event.kind == "breaker.closed":
            states[key] = {"state": "closed", "source": "events"}
            continue
        # The breaker lets a probe through once its open period is over.
        retry_at = event.created_at + timedelta(seconds=settings.breaker_open_seconds)
        states[key] = {
            "state": "open" if now < retry_at else "half_open",
            "source": "events",
            "opened_at": event.created_at.isoformat(),
            "retry_at": retry_at.isoformat(),
        }
    return states


def _describe(error: BaseException) -> str:
    # The class name and first line only: enough for on-call, no connection strings.
    if isinstance(error, TimeoutError):
        return f"TimeoutError: no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    first_line = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first_line}"[:200]


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)

"""GET /api/health: what on-call and load balancers ask first.

``critical`` (HTTP 503) when something the product cannot work without is
down; ``warning`` when it works but degraded; ``healthy`` otherwise. A check
of a service this install does not use reads ``unconfigured``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from handlers.keys import REQUEST_STATS, SERVICES
from store.database import Database
from store.repositories.deliveries import DeliveryRepository

CHECK_TIMEOUT_SECONDS = 3.0
# Without these nothing can be sent or recorded.
ESSENTIAL = ("database", "redis")


async def health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    database_check, queue_size = await _check_database(services.database)
    checks: dict[str, dict[str, Any]] = {
        "database": database_check,
        "redis": await _check_redis(services.redis),
        # Providers are chosen and checked by the dispatch layer (issue 4).
        "email_service": {"status": "unconfigured"},
        "sms_service": {"status": "unconfigured"},
    }
    stats = request.app[REQUEST_STATS]
    status = _overall(checks)
    body = {
        "status": status,
        "checks": checks,
        "metrics": {
            "queue_size": queue_size,
            "error_rate": stats.error_rate_percent(),
            "response_time": stats.mean_response_ms(),
        },
    }
    return web.json_response(body, status=503 if status == "critical" else 200)


def _overall(checks: dict[str, dict[str, Any]]) -> str:
    failing = [name for name, check in checks.items() if check["status"] == "error"]
    if any(name in ESSENTIAL for name in failing):
        return "critical"
    return "warning" if failing else "healthy"


async def _check_database(database: Database) -> tuple[dict[str, Any], int | None]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), database.reading() as session:
            queue_size = await DeliveryRepository(session).count_waiting()
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        return {"status": "error", "error": _describe(error)}, None
    return {"status": "ok", "latency_ms": _elapsed_ms(started)}, queue_size


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


def _describe(error: BaseException) -> str:
    # The class name and first line only: enough for on-call, no connection strings.
    if isinstance(error, TimeoutError):
        return f"TimeoutError: no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    first_line = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first_line}"[:200]


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)

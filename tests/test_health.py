"""GET /api/health through the real aiohttp app, against real and unreachable services."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import text

from dispatch.breaker import BreakerPolicy, RedisBreaker
from dispatch.providers.factory import email_provider, sms_provider
from handlers.app import create_app
from store.database import Database
from store.models import Event
from store.models.base import utcnow
from store.models.monitoring import Alert
from tests.conftest import open_database
from tests.web_harness import ClientFactory, app_settings

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def _app(database_url: str, redis_url: str | None = None) -> web.Application:
    return create_app(app_settings(database_url, redis_url))


async def _health(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.get("/api/health")
    return response.status, await response.json()


async def test_healthy_on_sqlite_without_redis(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    client = await aiohttp_client(_app(sqlite_database_url))
    status, body = await _health(client)

    assert status == 200
    assert body["status"] == "healthy"
    assert set(body["checks"]) == {"database", "redis", "email_service", "sms_service"}
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"] == {"status": "unconfigured"}
    # The console writes emails to var/outbox: not a service this install uses.
    assert body["checks"]["email_service"] == {
        "status": "unconfigured",
        "provider": "console",
        "breaker": {"state": "closed", "source": "events"},
    }
    assert body["checks"]["sms_service"] == {
        "status": "ok",
        "provider": "twilio",
        "breaker": {"state": "closed", "source": "events"},
    }
    assert body["metrics"] == {"queue_size": 0, "error_rate": 0.0, "response_time": 0.0}


async def test_health_pings_a_real_redis(
    aiohttp_client: ClientFactory, sqlite_database_url: str, redis_url: str
) -> None:
    client = await aiohttp_client(_app(sqlite_database_url, redis_url))
    status, body = await _health(client)
    assert (status, body["status"]) == (200, "healthy")
    assert body["checks"]["redis"]["status"] == "ok"


async def test_health_on_postgresql(aiohttp_client: ClientFactory, postgres_url: Any) -> None:
    client = await aiohttp_client(_app(postgres_url.render_as_string(hide_password=False)))
    status, body = await _health(client)
    assert (status, body["checks"]["database"]["status"]) == (200, "ok")


async def test_unreachable_redis_is_critical(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    client = await aiohttp_client(_app(sqlite_database_url, UNREACHABLE_REDIS))
    status, body = await _health(client)
    assert (status, body["status"]) == (503, "critical")
    assert body["checks"]["redis"]["status"] == "error"
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


async def test_unreachable_database_is_critical_and_says_so(
    aiohttp_client: ClientFactory,
) -> None:
    client = await aiohttp_client(_app("postgresql+asyncpg://nobody:secret@127.0.0.1:1/none"))
    status, body = await _health(client)
    assert (status, body["status"]) == (503, "critical")
    assert body["checks"]["database"]["status"] == "error"
    assert "secret" not in str(body)
    assert body["metrics"]["queue_size"] is None


async def test_every_answer_carries_a_request_id(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    client = await aiohttp_client(_app(sqlite_database_url))
    offered = await client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    assert offered.headers["X-Request-ID"] == "abc-123"
    hostile = await client.get("/api/health", headers={"X-Request-ID": "<script>"})
    assert len(hostile.headers["X-Request-ID"]) == 32
    missing = await client.get("/nowhere")
    assert missing.status == 404
    assert missing.headers["X-Request-ID"]


async def test_health_reports_this_processs_response_time(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    client = await aiohttp_client(_app(sqlite_database_url))
    for _ in range(3):
        await client.get("/api/health")
    _, body = await _health(client)
    assert body["metrics"]["response_time"] > 0
    assert body["metrics"]["error_rate"] == 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_guestcomms_serve_migrates_and_answers_health(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "PORT": str(port),
    }
    env.pop("REDIS_URL", None)
    script = Path(sys.executable).parent / "guestcomms"
    with subprocess.Popen(
        [str(script), "serve"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    ) as server:
        try:
            body = _wait_for_health(f"http://127.0.0.1:{port}/api/health", server)
            assert '"status": "healthy"' in body
        finally:
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=10) == 0
        assert server.stdout is not None
        assert f"serving on http://localhost:{port}" in server.stdout.read()


def _wait_for_health(url: str, server: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"guestcomms serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                return str(response.read().decode())
        except OSError:
            time.sleep(0.2)
    pytest.fail("guestcomms serve did not answer /api/health within 30 s")


async def test_health_answers_while_an_import_holds_the_sqlite_write_lock(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    client = await aiohttp_client(_app(sqlite_database_url))
    writer = open_database(sqlite_database_url)
    try:
        async with writer.transaction() as session:
            await session.execute(text("UPDATE organisations SET name = name"))
            status, body = await _health(client)
    finally:
        await writer.dispose()
    assert (status, body["checks"]["database"]["status"]) == (200, "ok")


@pytest.mark.parametrize(
    ("dispatch", "check"),
    [
        ({"email_provider": "resend", "resend_api_key": "re_test"}, {"status": "ok"}),
        ({"email_provider": "smtp", "smtp_host": "127.0.0.1"}, {"status": "ok"}),
        (
            {"email_provider": "smtp"},
            {"status": "error", "missing": ["SMTP_HOST"], "wanted": "smtp"},
        ),
        (
            {"email_provider": "resend"},
            {"status": "error", "missing": ["RESEND_API_KEY"], "wanted": "resend"},
        ),
    ],
)
async def test_email_service_names_what_its_provider_lacks(
    aiohttp_client: ClientFactory,
    sqlite_database_url: str,
    dispatch: dict[str, Any],
    check: dict[str, Any],
    tmp_path: Path,
) -> None:
    settings = app_settings(sqlite_database_url, outbox_dir=tmp_path, **dispatch)
    client = await aiohttp_client(create_app(settings))
    status, body = await _health(client)
    email = body["checks"]["email_service"]
    used = email_provider(settings.dispatch)
    await used.close()
    # The provider health names is the one the workers build from the same settings.
    assert email["provider"] == used.name
    assert email["status"] == check["status"]
    if check["status"] == "error":
        assert email["missing"] == check["missing"]
        assert email["error"] == (
            f"{check['wanted']} is chosen but {check['missing'][0]} is not set: "
            "messages are written to the console outbox instead"
        )
        # Degraded, not down: the rest of the product works.
        assert (status, body["status"]) == (200, "warning")
    else:
        assert (status, body["status"]) == (200, "healthy")


@pytest.mark.parametrize(
    ("dispatch", "status", "missing"),
    [
        ({"twilio_messaging_service_sid": "MG" + "0" * 32}, "ok", None),
        ({"twilio_auth_token": None}, "error", ["TWILIO_AUTH_TOKEN"]),
        (
            {"twilio_auth_token": None, "twilio_from_number": None},
            "error",
            ["TWILIO_AUTH_TOKEN", "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER"],
        ),
        # The auth token alone only signs guests' replies (as the console does):
        # texts go to the outbox, as with no Twilio setting at all.
        ({"twilio_account_sid": None, "twilio_from_number": None}, "unconfigured", None),
        (
            {"twilio_account_sid": None, "twilio_auth_token": None, "twilio_from_number": None},
            "unconfigured",
            None,
        ),
    ],
)
async def test_sms_service_names_what_twilio_lacks(
    aiohttp_client: ClientFactory,
    sqlite_database_url: str,
    dispatch: dict[str, Any],
    status: str,
    missing: list[str] | None,
    tmp_path: Path,
) -> None:
    settings = app_settings(sqlite_database_url, outbox_dir=tmp_path, **dispatch)
    client = await aiohttp_client(create_app(settings))
    _, body = await _health(client)
    sms = body["checks"]["sms_service"]
    used = sms_provider(settings.dispatch)
    await used.close()
    assert sms["provider"] == used.name
    assert sms["status"] == status
    assert sms.get("missing") == missing
    assert body["status"] == ("warning" if status == "error" else "healthy")


async def _announce(database: Database, kind: str, provider: str, ago: timedelta) -> None:
    # As dispatch/batch.py announces a breaker's change.
    at = utcnow() - ago
    async with database.transaction() as session:
        session.add(
            Event(kind=kind, payload={"provider": provider, "at": at.isoformat()}, created_at=at)
        )


async def test_an_open_breaker_in_the_event_log_is_a_warning(
    aiohttp_client: ClientFactory, database: Database
) -> None:
    url = database.url.render_as_string(hide_password=False)
    client = await aiohttp_client(_app(url))
    await _announce(database, "breaker.opened", "sms:twilio", timedelta(seconds=5))
    # Another provider's breaker (texts went to the console before Twilio was set up).
    await _announce(database, "breaker.opened", "sms:console", timedelta(seconds=1))

    status, body = await _health(client)
    sms = body["checks"]["sms_service"]
    assert (status, body["status"], sms["status"]) == (200, "warning", "error")
    assert sms["breaker"]["state"] == "open"
    assert sms["breaker"]["source"] == "events"
    retry_at = datetime.fromisoformat(sms["breaker"]["retry_at"])
    opened_at = datetime.fromisoformat(sms["breaker"]["opened_at"])
    assert retry_at - opened_at == timedelta(seconds=30)  # BREAKER_OPEN_SECONDS
    assert sms["error"] == (
        "circuit breaker sms:twilio is open after repeated failures; "
        f"sending resumes with a probe at {sms['breaker']['retry_at']}"
    )
    assert body["checks"]["email_service"]["breaker"]["state"] == "closed"

    await _announce(database, "breaker.closed", "sms:twilio", timedelta(0))
    status, body = await _health(client)
    assert (status, body["status"]) == (200, "healthy")
    assert body["checks"]["sms_service"]["breaker"] == {"state": "closed", "source": "events"}


async def test_a_breaker_past_its_open_period_is_half_open(
    aiohttp_client: ClientFactory, sqlite_database_url: str, sqlite_database: Database
) -> None:
    client = await aiohttp_client(_app(sqlite_database_url))
    await _announce(sqlite_database, "breaker.opened", "sms:twilio", timedelta(minutes=5))
    _, body = await _health(client)
    assert body["status"] == "healthy"
    assert body["checks"]["sms_service"]["status"] == "ok"
    assert body["checks"]["sms_service"]["breaker"]["state"] == "half_open"


async def test_breaker_state_is_read_from_redis_when_configured(
    aiohttp_client: ClientFactory, sqlite_database_url: str, redis_url: str
) -> None:
    namespace = f"gctest-{uuid.uuid4().hex[:10]}"
    client = await aiohttp_client(
        create_app(app_settings(sqlite_database_url, redis_url, broker_namespace=namespace))
    )
    redis = Redis.from_url(redis_url)
    policy = BreakerPolicy(failure_rate=0.5, min_calls=2, window_seconds=60, open_seconds=30)
    try:
        breaker = RedisBreaker(redis, policy, namespace)
        assert await breaker.record("sms:twilio", False, 2) == "opened"
        status, body = await _health(client)
        sms = body["checks"]["sms_service"]
        assert (status, body["status"], sms["status"]) == (200, "warning", "error")
        assert sms["breaker"]["state"] == "open"
        assert sms["breaker"]["source"] == "redis"
        assert body["checks"]["email_service"]["breaker"] == {
            "state": "closed",
            "source": "redis",
        }

        # Past its open period: half open, and looking did not take the workers' probe.
        earlier = RedisBreaker(redis, policy, namespace, clock=lambda: time.time() - 120)
        assert await earlier.record("email:console", False, 2) == "opened"
        _, body = await _health(client)
        assert body["checks"]["email_service"]["breaker"]["state"] == "half_open"
        assert body["checks"]["email_service"]["status"] == "unconfigured"
        probe = await breaker.check("email:console")
        assert (probe.allowed, probe.state) == (True, "half_open")
    finally:
        keys = [key async for key in redis.scan_iter(f"{namespace}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


@pytest.mark.parametrize(
    ("severities", "expected"),
    [(("P2",), "warning"), (("P3", "P1"), "critical"), ((), "healthy")],
)
async def test_firing_alerts_set_the_status_and_are_listed(
    aiohttp_client: ClientFactory,
    sqlite_database_url: str,
    severities: tuple[str, ...],
    expected: str,
) -> None:
    """What the alerts channel says firing, health says too — but only an unreachable
    database or Redis answers 503: the instance itself can still serve."""
    database = open_database(sqlite_database_url)
    since = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    try:
        async with database.transaction() as session:
            for n, severity in enumerate(severities):
                session.add(
                    Alert(
                        rule_slug="provider-circuit-open",
                        rule_name="Provider circuit open",
                        severity=severity,
                        subject=f"sms:twilio-{n}",
                        status="firing",
                        breaching_since=since,
                        firing_since=since,
                    )
                )
            # A resolved alert is history, not state.
            session.add(
                Alert(
                    rule_slug="queue-backlog",
                    rule_name="Queue backlog",
                    severity="P0",
                    status="resolved",
                    breaching_since=since,
                    resolved_at=since,
                )
            )
    finally:
        await database.dispose()
    client = await aiohttp_client(_app(sqlite_database_url))
    status, body = await _health(client)

    assert status == 200
    assert body["status"] == expected
    assert sorted(a["severity"] for a in body["alerts"]) == sorted(severities)
    assert all(a["since"] == since.isoformat() for a in body["alerts"])

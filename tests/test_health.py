"""GET /api/health through the real aiohttp app, against real and unreachable services."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from handlers.app import create_app
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
    assert body["checks"]["email_service"] == {"status": "unconfigured"}
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

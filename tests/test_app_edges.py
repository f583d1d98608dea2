"""The app's edges: unknown routes, wrong methods, oversized bodies and our own failures."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from handlers.app import create_app
from tests.twilio_webhook_client import post_signed, text_from
from tests.web_harness import ClientFactory, app_settings


async def failing(request: web.Request) -> web.Response:
    raise RuntimeError("password=hunter2 in a stack frame")


@pytest.fixture
async def client(aiohttp_client: ClientFactory, sqlite_database_url: str) -> TestClient[Any, Any]:
    app = create_app(app_settings(sqlite_database_url))
    # A route that fails as our code might: the edge must hide what went wrong.
    app.router.add_get("/api/failing", failing)
    return await aiohttp_client(app)


async def json_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == "application/json"
    body: dict[str, Any] = await response.json()
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return body


async def test_an_unknown_route_is_a_json_404(client: TestClient[Any, Any]) -> None:
    body = await json_error(await client.get("/api/nothing-here"), 404)
    assert body["error"] == "not_found"


async def test_a_wrong_method_is_a_json_405_saying_which_are_allowed(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/twilio/sms")
    body = await json_error(response, 405)
    assert body["error"] == "method_not_allowed"
    assert response.headers["Allow"] == "POST"


async def test_an_oversized_body_is_refused_before_it_is_read(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    settings = app_settings(sqlite_database_url)
    settings.web.max_request_bytes = 4096
    client = await aiohttp_client(create_app(settings))
    response = await post_signed(client, "/twilio/sms", text_from("+12012000001", "x" * 10_000))
    body = await json_error(response, 413)
    assert "4096" in body["message"]


async def test_our_own_failure_is_a_500_without_a_stack_trace(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/api/failing")
    body = await json_error(response, 500)
    text = str(body)
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert body["error"] == "internal_error"

"""``POST /slack/events`` on the aiohttp app: Slack's requests into Bolt.

Bolt checks the signature and the timestamp's age. A timestamp that is not a
number would make slack_sdk's verifier raise, so it is refused here first:
every forged request gets 401 and runs nothing.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

SLACK_BOLT: web.AppKey[AsyncApp] = web.AppKey("slack_bolt", AsyncApp)
SLACK_MISSING: web.AppKey[list[str]] = web.AppKey("slack_missing", list)

TIMESTAMP = "X-Slack-Request-Timestamp"


async def slack_events(request: web.Request) -> web.Response:
    missing = request.app[SLACK_MISSING]
    if missing:
        return web.json_response(
            {
                "error": "slack_not_configured",
                "message": f"Slack is not configured: set {' and '.join(missing)}.",
            },
            status=503,
        )
    if not request.headers.get(TIMESTAMP, "").isdigit():
        return web.json_response({"error": "invalid_request"}, status=401)
    bolt = request.app[SLACK_BOLT]
    answer = await bolt.async_dispatch(await to_bolt_request(request))
    return await to_aiohttp_response(answer)


async def slack_oauth(request: web.Request) -> web.Response:
    """``/slack/install`` and ``/slack/oauth_redirect``: Bolt's OAuth flow, when configured."""
    bolt = request.app.get(SLACK_BOLT)
    flow = bolt.oauth_flow if bolt is not None else None
    if flow is None:
        return web.json_response(
            {
                "error": "slack_install_not_configured",
                "message": "Installing into other workspaces is not configured: set "
                "SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET.",
            },
            status=404,
        )
    bolt_request = await to_bolt_request(request)
    if request.path == flow.install_path:
        answer = await flow.handle_installation(bolt_request)
    else:
        answer = await flow.handle_callback(bolt_request)
    return await to_aiohttp_response(answer)


def mount(app: web.Application, bolt: AsyncApp | None, missing: list[str]) -> None:
    """Route Slack's requests to ``bolt`` (None with ``missing`` settings: 503)."""
    if bolt is not None:
        app[SLACK_BOLT] = bolt
        app.on_shutdown.append(finish_slack_work)
    app[SLACK_MISSING] = missing
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/slack/install", slack_oauth)
    app.router.add_get("/slack/oauth_redirect", slack_oauth)


async def finish_slack_work(_app: web.Application) -> None:
    """Let the work of requests already acknowledged finish before the app stops.

    Bolt answers Slack first and runs the listener on in a task of its own; a
    stop that cut those short would leave a planner's command half done with
    "ok" already said. They get a grace period, then are cancelled.
    """
    running = [
        task
        for task in asyncio.all_tasks()
        if not task.done() and _BOLT_WORK in task.get_coro().__qualname__  # type: ignore[union-attr]
    ]
    if running:
        _done, late = await asyncio.wait(running, timeout=SHUTDOWN_GRACE_SECONDS)
        for task in late:
            task.cancel()


# The coroutine Bolt runs a listener in after its ack (slack_bolt/listener/asyncio_runner.py).
_BOLT_WORK = "run_ack_function_asynchronously"
SHUTDOWN_GRACE_SECONDS = 20.0

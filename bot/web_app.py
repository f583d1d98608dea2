"""The web app ``serve`` and ``dev`` run: the HTTP layer's app with Slack mounted on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from bot.dispatching import Dispatching
from bot.settings import Settings
from bot.slack.areas import AREAS
from bot.slack.bolt_app import build_bolt_app
from bot.slack.endpoint import mount
from bot.slack.notifier import notifier_context
from bot.slack.services import BotServices
from handlers.app import create_app
from store.models.base import utcnow


def build_web_app(
    settings: Settings, dispatching: Dispatching, clock: Callable[[], datetime] = utcnow
) -> web.Application:
    """Slack answers 503, naming what is missing, until its settings are given."""
    app = create_app(settings)
    missing = settings.slack.missing()
    if missing:
        mount(app, None, missing)
        return app
    runtime = dispatching.control_runtime(settings, clock)
    services = BotServices(settings, runtime, clock=clock)
    mount(app, build_bolt_app(services, AREAS), [])
    # Progress messages and guests' replies, each in its organisation's workspace.
    app.cleanup_ctx.append(notifier_context(services))

    async def close_runtime(_app: web.Application) -> None:
        await runtime.close()

    app.on_cleanup.append(close_runtime)
    return app

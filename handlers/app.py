"""The aiohttp application factory: the one app ``guestcomms serve`` runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from dispatch.compose.tracking_tokens import TrackingTokens
from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from handlers import (
    email_webhooks,
    operator_api,
    tracking_pages,
    twilio_webhooks,
    unsubscribe_pages,
)
from handlers.errors import NotConfigured
from handlers.health import health
from handlers.keys import (
    RECENT_ERRORS,
    REQUEST_STATS,
    SERVICES,
    SETTINGS,
    TRACKING_TOKENS,
    UNSUBSCRIBE_TOKENS,
    Services,
)
from handlers.metric_rows import metric_rows_context
from handlers.metrics import METRICS, WebMetrics, metrics
from handlers.middleware import request_context, security_headers
from handlers.recent_errors import RecentErrors
from handlers.request_stats import RequestStats
from handlers.settings import AppSettings
from store.database import Database
from store.redis import connect_redis


def create_app(settings: AppSettings) -> web.Application:
    """The web app; signing keys must be set (the composition root keeps dev ones)."""
    secrets = [key.get_secret_value() for key in settings.dispatch.unsubscribe_secret]
    if not secrets:
        raise NotConfigured("UNSUBSCRIBE_SECRET is not set: unsubscribe links cannot be checked")
    app = web.Application(
        client_max_size=settings.web.max_request_bytes,
        middlewares=[request_context, security_headers],
    )
    app[SETTINGS] = settings
    app[REQUEST_STATS] = RequestStats()
    app[RECENT_ERRORS] = RecentErrors()
    app[METRICS] = WebMetrics()
    app[UNSUBSCRIBE_TOKENS] = UnsubscribeTokens(
        secrets, settings.dispatch.unsubscribe_token_max_age_days
    )
    # The same keys as unsubscribe links, under another salt.
    app[TRACKING_TOKENS] = TrackingTokens(secrets)
    app.cleanup_ctx.append(_services(settings))
    # Inside the services' context: its last flush still has the database.
    app.cleanup_ctx.append(metric_rows_context())
    app.router.add_get("/api/health", health)
    app.router.add_get("/metrics", metrics)
    email_webhooks.register(app.router)
    operator_api.register(app.router)
    twilio_webhooks.register(app.router)
    unsubscribe_pages.register(app.router)
    tracking_pages.register(app.router)
    return app


def _services(settings: AppSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        database = Database(settings.store)
        redis = connect_redis(settings.store)
        app[SERVICES] = Services(database=database, redis=redis)
        try:
            yield
        finally:
            if redis is not None:
                await redis.aclose()
            await database.dispose()

    return context

"""The aiohttp application factory: the one app ``guestcomms serve`` runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from handlers.health import health
from handlers.keys import REQUEST_STATS, SERVICES, WEB_SETTINGS, Services
from handlers.middleware import request_context
from handlers.request_stats import RequestStats
from handlers.settings import WebSettings
from store.database import Database
from store.redis import connect_redis
from store.settings import StoreSettings


def create_app(settings: WebSettings, store_settings: StoreSettings) -> web.Application:
    app = web.Application(client_max_size=settings.max_request_bytes, middlewares=[request_context])
    app[WEB_SETTINGS] = settings
    app[REQUEST_STATS] = RequestStats()
    app.cleanup_ctx.append(_services(store_settings))
    app.router.add_get("/api/health", health)
    return app


def _services(
    store_settings: StoreSettings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        database = Database(store_settings)
        redis = connect_redis(store_settings)
        app[SERVICES] = Services(database=database, redis=redis)
        try:
            yield
        finally:
            if redis is not None:
                await redis.aclose()
            await database.dispose()

    return context

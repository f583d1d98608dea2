"""Typed keys for what the app holds; set by ``create_app`` and its cleanup context."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from dispatch.compose.tracking_tokens import TrackingTokens
from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from handlers.recent_errors import RecentErrors
from handlers.request_stats import RequestStats
from handlers.settings import AppSettings
from store.database import Database


@dataclass(frozen=True, slots=True)
class Services:
    database: Database
    redis: Redis | None


SERVICES = web.AppKey("services", Services)
SETTINGS = web.AppKey[AppSettings]("settings")
UNSUBSCRIBE_TOKENS = web.AppKey("unsubscribe_tokens", UnsubscribeTokens)
TRACKING_TOKENS = web.AppKey("tracking_tokens", TrackingTokens)
REQUEST_STATS = web.AppKey("request_stats", RequestStats)
RECENT_ERRORS = web.AppKey("recent_errors", RecentErrors)
REQUEST_ID = web.RequestKey("request_id", str)

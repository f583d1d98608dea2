"""Typed keys for what the app holds; set by ``create_app`` and its cleanup context."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from handlers.request_stats import RequestStats
from handlers.settings import WebSettings
from store.database import Database


@dataclass(frozen=True, slots=True)
class Services:
    database: Database
    redis: Redis | None


SERVICES = web.AppKey("services", Services)
WEB_SETTINGS = web.AppKey("web_settings", WebSettings)
REQUEST_STATS = web.AppKey("request_stats", RequestStats)
REQUEST_ID = web.RequestKey("request_id", str)

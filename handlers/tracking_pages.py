"""``GET /t/o/{token}`` (the 1×1 image of a tracked email) and ``GET /t/c/{token}`` (its links).

A click redirects only to the URL signed into its token — the one that was
in the message — so these links can never be used to send people elsewhere;
a token that does not verify gets a plain 400 page and no redirect. A
guest's request is answered even when recording it fails: the image always
loads and the link always leads on.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from dispatch.errors import InvalidTrackingToken
from handlers.guest_pages import render_page
from handlers.keys import SERVICES, TRACKING_TOKENS
from handlers.link_scanners import ignored_because
from store.repositories.engagements import email_sent_at, record_engagement

log = structlog.get_logger(__name__)

OPEN = "open"
CLICK = "click"
# A transparent 1×1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
# Each open must reach us: no cache may answer for us.
_NO_STORE = {"Cache-Control": "no-store, private", "Pragma": "no-cache"}


def register(router: web.UrlDispatcher) -> None:
    router.add_get("/t/o/{token}", opened)
    router.add_get("/t/c/{token}", clicked)


async def opened(request: web.Request) -> web.Response:
    try:
        delivery_id = request.app[TRACKING_TOKENS].verify_open(request.match_info["token"])
    except InvalidTrackingToken:
        return web.Response(text="Not a valid image link.", status=400, headers=_NO_STORE)
    await _record(request, delivery_id, OPEN, None)
    return web.Response(body=PIXEL, content_type="image/gif", headers=_NO_STORE)


async def clicked(request: web.Request) -> web.Response:
    try:
        claim = request.app[TRACKING_TOKENS].verify_click(request.match_info["token"])
    except InvalidTrackingToken:
        return render_page("invalid_tracked_link.html", status=400)
    await _record(request, claim.delivery_id, CLICK, claim.url)
    # 302 and no-store: every click is a fresh request (a cached redirect
    # would hide later clicks), and the destination is never remembered here.
    raise web.HTTPFound(claim.url, headers=_NO_STORE)


async def _record(request: web.Request, delivery_id: int, kind: str, url: str | None) -> None:
    now = datetime.now(UTC)
    user_agent = request.headers.get("User-Agent", "")
    try:
        async with request.app[SERVICES].database.transaction() as session:
            sent_at = await email_sent_at(session, delivery_id)
            if sent_at is None:
                return  # no such email, or its guest was erased: nothing to count
            await record_engagement(
                session,
                delivery_id=delivery_id,
                kind=kind,
                url=url,
                user_agent=user_agent,
                ignored_because=ignored_because(kind, user_agent, sent_at, now),
                at=now,
            )
    except SQLAlchemyError:
        log.exception("tracking not recorded", kind=kind, delivery_id=delivery_id)

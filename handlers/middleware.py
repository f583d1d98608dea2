"""Every request gets an id, its timing recorded, and no stack trace ever reaches a client."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from handlers.keys import RECENT_ERRORS, REQUEST_ID, REQUEST_STATS
from handlers.metrics import METRICS
from handlers.recent_errors import HttpError
from store.audit import REQUEST_ID as REQUEST_ID_OF_AUDIT

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_PLAIN_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def _request_id(request: web.Request) -> str:
    offered = request.headers.get(REQUEST_ID_HEADER)
    # Accept a caller's id only if it is short and plain: it is echoed and logged.
    if offered and _PLAIN_ID.fullmatch(offered):
        return offered
    return secrets.token_hex(16)  # 32 hex digits, as uuid4().hex, without the UUID object


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = _request_id(request)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    try:
        # Audit rows written for this request — including by the Slack listener
        # Bolt starts from here after its ack — carry the id the response shows.
        # (Set and reset by hand: the two context managers cost as much again.)
        audit_token = REQUEST_ID_OF_AUDIT.set(request_id)
        log_tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = await handler(request)
        finally:
            structlog.contextvars.reset_contextvars(**log_tokens)
            REQUEST_ID_OF_AUDIT.reset(audit_token)
        status = response.status
    except web.HTTPException as error:
        status = error.status
        if status < 400 or error.content_type in ("application/json", "text/html"):
            error.headers[REQUEST_ID_HEADER] = request_id
            raise
        # aiohttp's own refusals (404, 405, 413…) are plain text: callers of an
        # API get JSON they can parse, with the id to quote.
        response = _as_json(error, request_id)
    except Exception:
        log.exception("request failed", path=request.path, request_id=request_id)
        response = web.json_response(
            {
                "error": "internal_error",
                "message": "Something went wrong on our side. It has been logged; "
                "quote the request id if you report it.",
                "request_id": request_id,
            },
            status=500,
            headers={"X-Content-Type-Options": "nosniff"},
        )
    finally:
        elapsed = time.perf_counter() - started
        request.app[REQUEST_STATS].record(elapsed, server_error=status >= 500)
        request.app[METRICS].observe_request(_route(request), status, elapsed)
        if status >= 400:
            request.app[RECENT_ERRORS].record(
                HttpError(datetime.now(UTC), request.method, _route(request), status, request_id)
            )
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _as_json(error: web.HTTPException, request_id: str) -> web.Response:
    reason = error.reason or "error"
    response = web.json_response(
        {
            "error": re.sub(r"[^a-z]+", "_", reason.lower()).strip("_"),
            "message": error.text or reason,
            "request_id": request_id,
        },
        status=error.status,
    )
    # Keep what the refusal said in headers (Allow, WWW-Authenticate, nosniff…).
    for name, value in error.headers.items():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


def _route(request: web.Request) -> str:
    # The route's pattern (/u/{token}), never the path: tokens must not
    # become label values, and labels must stay few.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


# Pages guests read carry no scripts and load only our own stylesheet.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:
        _protect(error)
        raise
    _protect(response)
    return response


def _protect(response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # The header as set, not ``content_type`` (which parses it on every call).
    if "text/html" in headers.get("Content-Type", ""):
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")

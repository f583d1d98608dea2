"""Every request gets an id, its timing recorded, and no stack trace ever reaches a client."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from handlers.keys import REQUEST_ID, REQUEST_STATS

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_PLAIN_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def _request_id(request: web.Request) -> str:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    # Accept a caller's id only if it is short and plain: it is echoed and logged.
    if _PLAIN_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = _request_id(request)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as error:
        status = error.status
        error.headers[REQUEST_ID_HEADER] = request_id
        raise
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
        )
    finally:
        request.app[REQUEST_STATS].record(time.perf_counter() - started, server_error=status >= 500)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response

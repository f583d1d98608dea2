"""The operator API's door: a bearer JWT, the action the route declares (allowed to the
token's role by the permission table, store/permissions.py), an organisation scope,
and JSON answers.

Each endpoint is a function of the request, the caller and read-only queries
scoped to the caller's organisation; the typed errors it raises become JSON
problems here (``{"error", "message", "request_id"}``), at the edge.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from handlers.api_tokens import ApiTokens, OperatorClaims
from handlers.errors import BadParameter, Forbidden, InvalidToken, NotConfigured
from handlers.keys import REQUEST_ID, SERVICES, SETTINGS
from store import permissions
from store.errors import NotAllowed, NotFound
from store.models import Organisation
from store.permissions import Action
from store.repositories.operations import OperationsQueries

REALM = "guestcomms"


@dataclass(frozen=True, slots=True)
class Caller:
    claims: OperatorClaims
    organisation: Organisation | None  # the token's ``org``: all it may see


Endpoint = Callable[[web.Request, Caller, OperationsQueries], Awaitable[dict[str, Any]]]


def guarded(action: Action, endpoint: Endpoint) -> Handler:
    """The aiohttp handler of ``endpoint``, open to tokens whose role may do ``action``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            claims = _authenticate(request)
            if claims is None:
                # RFC 6750 §3.1: no error code when no credentials were sent.
                return _problem(
                    request,
                    401,
                    "missing_token",
                    InvalidToken("send an operator token as “Authorization: Bearer <token>”"),
                    {"WWW-Authenticate": f'Bearer realm="{REALM}"'},
                )
            permissions.require(claims.role, action)
            async with request.app[SERVICES].database.reading() as session:
                organisation = None
                if claims.organisation is not None:
                    organisation = await OperationsQueries(session).organisation(
                        claims.organisation
                    )
                    if organisation is None:
                        raise Forbidden(
                            f"the token is for organisation “{claims.organisation}”, "
                            "which does not exist"
                        )
                queries = OperationsQueries(session, organisation.id if organisation else None)
                body = await endpoint(request, Caller(claims, organisation), queries)
        except InvalidToken as error:
            challenge = f'Bearer realm="{REALM}", error="invalid_token"'
            return _problem(request, 401, "invalid_token", error, {"WWW-Authenticate": challenge})
        except (Forbidden, NotAllowed) as error:
            return _problem(request, 403, "forbidden", error)
        except BadParameter as error:
            return _problem(request, 400, "invalid_parameter", error, field=error.field)
        except NotFound as error:
            return _problem(request, 404, "not_found", error)
        except NotConfigured as error:
            return _problem(request, 503, "not_configured", error)
        return web.json_response(body, dumps=_dumps)

    return handler


def _authenticate(request: web.Request) -> OperatorClaims | None:
    """The token's claims; None when the request carries no bearer token at all."""
    secrets = [key.get_secret_value() for key in request.app[SETTINGS].web.jwt_secret]
    tokens = ApiTokens(secrets)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return tokens.verify(token.strip())


def _problem(
    request: web.Request,
    status: int,
    code: str,
    error: Exception,
    headers: dict[str, str] | None = None,
    **extra: str,
) -> web.Response:
    text = str(error)
    body = {
        "error": code,
        "message": text[:1].upper() + text[1:] + ("" if text.endswith(".") else "."),
        "request_id": request[REQUEST_ID],
        **extra,
    }
    return web.json_response(body, status=status, headers=headers)


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


_dumps = partial(json.dumps, default=_json_default)

"""Bearer JWTs of the operator API: who gets in, who is turned away, and how they are told."""

from __future__ import annotations

import base64
import json
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from handlers.api_tokens import ApiTokens, lifetime, parse_role
from handlers.app import create_app
from handlers.errors import InvalidToken, NotConfigured
from handlers.settings import WebSettings
from store.enums import Role
from tests.web_harness import JWT_SECRET, ClientFactory, app_settings

QUEUE = "/api/communications/queue/status"
ERRORS = "/api/admin/errors"
OTHER_SECRET = "another-secret-of-the-right-length-0123456789"


def _token(role: Role = Role.VIEWER, secret: str = JWT_SECRET, **options: Any) -> str:
    return ApiTokens([secret]).issue(role, **options)


def _signed(claims: dict[str, Any], secret: str = JWT_SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        # HS512 would like a longer key; the point is that the server refuses it anyway.
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=algorithm)


def _claims(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "sub": "operator",
        "role": "admin",
        "iss": "guestcomms",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.fixture
async def client(aiohttp_client: ClientFactory, sqlite_database_url: str) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(app_settings(sqlite_database_url)))


async def _get(
    client: TestClient[Any, Any], path: str, token: str | None
) -> tuple[int, dict[str, Any], Any]:
    headers = {"X-Request-ID": "req-1"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = await client.get(path, headers=headers)
    return response.status, await response.json(), response.headers


async def test_a_valid_token_gets_in(client: TestClient[Any, Any]) -> None:
    status, body, _ = await _get(client, QUEUE, _token(Role.VIEWER))
    assert status == 200
    assert body["waiting"] == 0


async def test_no_token_is_401_with_a_bare_bearer_challenge(client: TestClient[Any, Any]) -> None:
    status, body, headers = await _get(client, QUEUE, None)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="guestcomms"'
    assert body == {
        "error": "missing_token",
        "message": "Send an operator token as “Authorization: Bearer <token>”.",
        "request_id": "req-1",
    }
    basic = await client.get(QUEUE, headers={"Authorization": "Basic b3A6cGFzcw=="})
    assert basic.status == 401
    assert (await basic.json())["error"] == "missing_token"


def _none_token() -> str:
    claims = _claims()
    claims = {
        **claims,
        "iat": int(claims["iat"].timestamp()),
        "exp": int(claims["exp"].timestamp()),
    }
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."


def _tampered() -> str:
    header, payload, signature = _token(Role.VIEWER).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{_segment({**claims, 'role': 'owner'})}.{signature}"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        pytest.param(lambda: _token(secret=OTHER_SECRET), "signature", id="wrong-secret"),
        pytest.param(
            lambda: _token(now=datetime.now(UTC) - timedelta(hours=3), lifetime=timedelta(hours=1)),
            "expired",
            id="expired",
        ),
        pytest.param(_none_token, "not signed with HS256", id="alg-none"),
        pytest.param(
            lambda: _signed(_claims(), algorithm="HS512"), "not signed with HS256", id="hs512"
        ),
        pytest.param(lambda: _signed(_claims(role=None)), "“role”", id="no-role"),
        pytest.param(lambda: _signed(_claims(role="superuser")), "one of owner", id="bad-role"),
        pytest.param(lambda: _signed(_claims(exp=None)), "“exp”", id="no-exp"),
        pytest.param(lambda: _signed(_claims(iat=None)), "“iat”", id="no-iat"),
        pytest.param(lambda: _signed(_claims(iss="someone-else")), "issued by", id="wrong-iss"),
        pytest.param(lambda: _signed(_claims(iss=None)), "“iss”", id="no-iss"),
        pytest.param(
            lambda: _signed(_claims(iat=datetime.now(UTC) + timedelta(hours=1))),
            "future",
            id="issued-later",
        ),
        pytest.param(_tampered, "signature", id="tampered-payload"),
        pytest.param(lambda: "not.a.jwt", "well-formed", id="garbage"),
    ],
)
async def test_bad_tokens_are_401_and_say_why(
    client: TestClient[Any, Any], make: Any, says: str
) -> None:
    status, body, headers = await _get(client, QUEUE, make())
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="guestcomms", error="invalid_token"'
    assert body["error"] == "invalid_token"
    assert says in body["message"]
    assert body["request_id"] == "req-1"


async def test_a_small_clock_difference_is_tolerated(client: TestClient[Any, Any]) -> None:
    skewed = _signed(_claims(iat=datetime.now(UTC) + timedelta(seconds=10)))
    status, _, _ = await _get(client, QUEUE, skewed)
    assert status == 200


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PLANNER, Role.APPROVER])
async def test_admin_routes_turn_other_roles_away_with_403(
    client: TestClient[Any, Any], role: Role
) -> None:
    status, body, _ = await _get(client, ERRORS, _token(role))
    assert status == 403
    assert body["error"] == "forbidden"
    assert body["message"] == (
        "To read errors, the dashboard and suppressions you need the owner or admin role; "
        f"you are {'an' if role == Role.APPROVER else 'a'} {role.value}."
    )


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
async def test_owners_and_admins_reach_admin_routes(
    client: TestClient[Any, Any], role: Role
) -> None:
    status, body, _ = await _get(client, ERRORS, _token(role))
    assert (status, body["errors"]) == (200, [])


async def test_a_token_for_an_organisation_that_does_not_exist_is_403(
    client: TestClient[Any, Any],
) -> None:
    status, body, _ = await _get(client, QUEUE, _token(organisation="nobody"))
    assert status == 403
    assert "“nobody”, which does not exist" in body["message"]


def _app_with_secrets(database_url: str, secrets: list[str]) -> web.Application:
    settings = app_settings(database_url)
    return create_app(replace(settings, web=WebSettings(jwt_secret=",".join(secrets))))


async def test_rotation_the_first_key_signs_and_every_key_verifies(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    client = await aiohttp_client(
        _app_with_secrets(sqlite_database_url, [OTHER_SECRET, JWT_SECRET])
    )
    old = _token(secret=JWT_SECRET)
    new = ApiTokens([OTHER_SECRET, JWT_SECRET]).issue(Role.VIEWER)
    for token in (old, new):
        status, _, _ = await _get(client, QUEUE, token)
        assert status == 200
    # New tokens are signed with the first key only.
    assert ApiTokens([OTHER_SECRET]).verify(new).role == Role.VIEWER
    with pytest.raises(InvalidToken):
        ApiTokens([JWT_SECRET]).verify(new)


async def test_without_jwt_secret_the_api_answers_503(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    client = await aiohttp_client(_app_with_secrets(sqlite_database_url, []))
    status, body, _ = await _get(client, QUEUE, _token())
    assert status == 503
    assert body["message"] == "JWT_SECRET is not set: operator API tokens cannot be checked."


def test_claims_round_trip() -> None:
    tokens = ApiTokens([JWT_SECRET])
    issued = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    token = tokens.issue(
        Role.PLANNER, subject="alice", organisation="acme", lifetime=timedelta(hours=2), now=issued
    )
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw == {
        "sub": "alice",
        "role": "planner",
        "iss": "guestcomms",
        "org": "acme",
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(hours=2)).timestamp()),
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_short_secrets_and_bad_inputs_are_refused() -> None:
    with pytest.raises(NotConfigured, match="at least 32 bytes"):
        ApiTokens(["short"])
    with pytest.raises(ValueError, match="use owner, admin, planner, approver or viewer"):
        parse_role("boss")
    assert parse_role(" Admin ") == Role.ADMIN
    for hours in ("0", "-1", "nan", "inf", "many", "2161"):
        with pytest.raises(ValueError, match="--hours must be a number above 0"):
            lifetime(hours)
    assert lifetime("0.5") == timedelta(minutes=30)

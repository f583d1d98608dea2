"""``guestcomms token``: operator API tokens from the command line, and the API accepting them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.secrets import with_kept_secrets
from bot.settings import load_settings
from handlers.api_tokens import ApiTokens
from handlers.app import create_app
from store.enums import Role
from tests.web_harness import JWT_SECRET, ClientFactory, app_settings

SECOND_SECRET = "a-second-jwt-secret-which-is-long-enough-too"


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh checkout with no signing keys in the environment."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    for name in ("REDIS_URL", "JWT_SECRET", "UNSUBSCRIBE_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _token(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["token", *args]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # the token alone, for TOKEN=$(guestcomms token …)
    return out.strip()


def test_without_jwt_secret_the_kept_key_signs(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _token(capsys, "--role", "viewer")
    kept = (laptop / "var" / "jwt_secret").read_text().strip()
    claims = ApiTokens([kept]).verify(token)
    assert (claims.role, claims.subject, claims.organisation) == (Role.VIEWER, "operator", None)
    assert claims.expires_at - claims.issued_at == timedelta(hours=24)
    # The same key again next time, and the one serve and dev check with.
    again = _token(capsys, "--role", "admin")
    assert ApiTokens([kept]).verify(again).role == Role.ADMIN
    served = with_kept_secrets(load_settings()).web.jwt_secret
    assert [key.get_secret_value() for key in served] == [kept]


def test_jwt_secret_from_the_environment_first_key_signs(
    laptop: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET", f"{SECOND_SECRET},{JWT_SECRET}")
    token = _token(capsys, "--role", "Owner", "--hours", "1.5", "--subject", "alice")
    claims = ApiTokens([SECOND_SECRET]).verify(token)
    assert (claims.role, claims.subject) == (Role.OWNER, "alice")
    assert claims.expires_at - claims.issued_at == timedelta(minutes=90)
    assert not (laptop / "var" / "jwt_secret").exists()


def test_a_bad_role_is_one_line_naming_the_roles(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--role", "boss"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "Cannot make a token: “boss” is not a role: "
        "use owner, admin, planner, approver or viewer.\n"
    )


@pytest.mark.parametrize("hours", ["0", "-3", "soon", "100000"])
def test_bad_hours_are_refused(
    laptop: Path, capsys: pytest.CaptureFixture[str], hours: str
) -> None:
    assert main(["token", "--role", "viewer", "--hours", hours]) == 2
    assert capsys.readouterr().err == (
        f"Cannot make a token: --hours must be a number above 0 and at most 2160, not “{hours}”.\n"
    )


def test_a_short_jwt_secret_is_an_operational_failure(
    laptop: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET", "short")
    assert main(["token", "--role", "viewer"]) == 1
    # (After the log lines saying which keys were generated for this laptop.)
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .startswith("Cannot make a token: JWT_SECRET keys must be at least 32 bytes long")
    )


def test_an_organisation_token_names_an_existing_organisation(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    capsys.readouterr()
    token = _token(capsys, "--role", "planner", "--organisation", "demo")
    kept = (laptop / "var" / "jwt_secret").read_text().strip()
    assert ApiTokens([kept]).verify(token).organisation == "demo"
    assert main(["token", "--role", "planner", "--organisation", "nope"]) == 2
    assert capsys.readouterr().err == ("Cannot make a token: Organisation 'nope' was not found.\n")


async def test_the_api_accepts_a_token_the_cli_printed(
    aiohttp_client: ClientFactory,
    sqlite_database_url: str,
    laptop: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JWT_SECRET", JWT_SECRET)
    # The CLI runs its own event loop, as it does in a shell.
    assert await asyncio.to_thread(main, ["token", "--role", "viewer"]) == 0
    viewer = capsys.readouterr().out.strip()
    client = await aiohttp_client(create_app(app_settings(sqlite_database_url)))
    headers = {"Authorization": f"Bearer {viewer}"}
    queue = await client.get("/api/communications/queue/status", headers=headers)
    assert queue.status == 200
    errors = await client.get("/api/admin/errors", headers=headers)
    assert errors.status == 403

"""Where the keys for guests' personal data come from: a laptop keeps its own under var/;
any other database needs them set, and every command and worker says so before it starts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from store.keyring import new_key

SERVER_DATABASE = "postgresql://guestcomms@127.0.0.1:9/nowhere"  # never reached


@pytest.fixture
def fresh_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no keys in the environment and none kept yet."""
    for name in ("DATA_ENCRYPTION_KEYS", "DATA_INDEX_KEY", "REDIS_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_laptop_makes_its_keys_once_and_keeps_them_under_var(
    fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{fresh_checkout / 'var' / 'laptop.db'}")
    assert main(["demo-data"]) == 0
    err = capsys.readouterr().err
    assert "DATA_ENCRYPTION_KEYS is not set; generated one in var/data_encryption_keys" in err
    assert "DATA_INDEX_KEY is not set; generated one in var/data_index_key" in err
    kept = {
        name: fresh_checkout / "var" / name for name in ("data_encryption_keys", "data_index_key")
    }
    for path in kept.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = {name: path.read_text() for name, path in kept.items()}

    # Later commands use the same keys, and read back what the first one wrote.
    assert main(["export", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert "generated" not in err
    assert "Maria Alvarez" in {guest["name"] for guest in json.loads(out)}
    assert {name: path.read_text() for name, path in kept.items()} == before


@pytest.mark.parametrize("command", [["demo-data"], ["export"], ["serve"], ["rotate-keys"]])
def test_a_server_database_without_keys_is_refused_naming_both(
    fresh_checkout: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", SERVER_DATABASE)
    assert main(command) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"guestcomms {command[0]} cannot run: DATA_ENCRYPTION_KEYS and DATA_INDEX_KEY are not "
        "set: guests' personal data is encrypted and looked up with these keys."
    )
    # Never made up on a server: each machine would have its own.
    assert not (fresh_checkout / "var").exists()


def test_the_missing_key_is_the_one_named(
    fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", SERVER_DATABASE)
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", new_key())
    assert main(["export"]) == 1
    assert capsys.readouterr().err.startswith(
        "guestcomms export cannot run: DATA_INDEX_KEY is not set:"
    )


def test_a_malformed_key_is_named(
    fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", SERVER_DATABASE)
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", f"{new_key()},not a key")
    monkeypatch.setenv("DATA_INDEX_KEY", new_key())
    assert main(["export"]) == 1
    assert capsys.readouterr().err == (
        "guestcomms export cannot run: DATA_ENCRYPTION_KEYS holds a key that is not "
        "URL-safe base64.\n"
    )


def test_commands_without_guests_need_no_data_keys(
    fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", SERVER_DATABASE)
    monkeypatch.setenv("JWT_SECRET", "a-jwt-secret-of-at-least-thirty-two-bytes")
    assert main(["token", "--role", "viewer"]) == 0
    assert capsys.readouterr().out.count(".") == 2  # a JWT


def test_a_worker_without_keys_refuses_to_start(fresh_checkout: Path) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATA_ENCRYPTION_KEYS", "DATA_INDEX_KEY", "REDIS_URL"}
    }
    env["DATABASE_URL"] = SERVER_DATABASE

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *arguments],
            env=env,
            cwd=fresh_checkout,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    worker = run("-m", "dramatiq", "bot.worker", "--processes", "1", "--threads", "1")
    assert worker.returncode != 0
    # Why, as the worker process says it: Dramatiq relays a crashed worker's
    # output through a pipe that it may stop reading as it shuts down, so the
    # message is read from the module's import itself, which is what fails.
    imported = run("-c", "import bot.worker")
    assert imported.returncode != 0
    assert "KeyringError: DATA_ENCRYPTION_KEYS and DATA_INDEX_KEY are not set" in imported.stderr

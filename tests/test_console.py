"""`guestcomms console` through a pseudo-terminal, as a newcomer would use it: commands
typed as in Slack, a guest's STOP, and what lands in var/outbox/."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from sqlalchemy import select

from store.models import Suppression
from tests.conftest import open_database

PROMPT = "Pat Planner> "
GUEST = "+15551234567"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[pexpect.spawn[str]]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "PUBLIC_BASE_URL": "http://localhost:8080",
    }
    for name in ("REDIS_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TWILIO_AUTH_TOKEN"):
        env.pop(name, None)
    script = str(Path(sys.executable).parent / "guestcomms")
    subprocess.run([script, "demo-data"], env=env, cwd=tmp_path, check=True, capture_output=True)
    child = pexpect.spawn(
        script,
        ["console", "--port", "0", "--every", "1"],
        env=env,
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    try:
        child.expect_exact(PROMPT)
        yield child
    finally:
        if child.isalive():
            child.sendline("/quit")
            child.expect(pexpect.EOF, timeout=30)
        child.close()


def test_help_and_a_mistyped_command(console: pexpect.spawn[str]) -> None:
    console.sendline("/comms help")
    console.expect_exact("Example:")
    console.expect_exact(PROMPT)
    console.sendline("/comms hlep")
    console.expect_exact("only Pat Planner sees this")
    console.expect_exact("/comms help [topic]")


async def test_a_guest_texts_help_then_stop(console: pexpect.spawn[str], tmp_path: Path) -> None:
    console.sendline(f"/guest {GUEST} HELP")
    console.expect_exact(f"(text to {GUEST}) Evergreen Weddings & Events")
    console.expect_exact(PROMPT)
    console.sendline(f"/guest {GUEST} STOP")
    console.expect_exact("Twilio confirms its own keywords")
    console.expect_exact(PROMPT)
    database = open_database(f"sqlite+aiosqlite:///{tmp_path / 'console.db'}")
    try:
        async with database.reading() as session:
            addresses = list(await session.scalars(select(Suppression.address)))
    finally:
        await database.dispose()
    assert GUEST in addresses

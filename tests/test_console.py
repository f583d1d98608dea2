"""`guestcomms console` through a pseudo-terminal, as a newcomer would use it: commands
typed as in Slack, a guest's STOP, and what lands in var/outbox/."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pexpect
import pytest
from sqlalchemy import select

from dispatch.compose.quiet_hours import in_quiet_hours
from store.models import Suppression
from tests.conftest import open_database

PROMPT = "Pat Planner> "
GUEST = "+15551234567"
# A demo guest who has not answered yet, with a phone number and SMS consent.
PENDING_GUEST = "+12015550104"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[pexpect.spawn[str]]:
    subprocess.run(
        [_guestcomms(), "demo-data"],
        env=_env(tmp_path),
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    with _running_console(tmp_path) as child:
        yield child


def _guestcomms() -> str:
    return str(Path(sys.executable).parent / "guestcomms")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "PUBLIC_BASE_URL": "http://localhost:8080",
    }
    for name in ("REDIS_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TWILIO_AUTH_TOKEN"):
        env.pop(name, None)
    return env


@contextlib.contextmanager
def _running_console(tmp_path: Path) -> Iterator[pexpect.spawn[str]]:
    child = pexpect.spawn(
        _guestcomms(),
        ["console", "--port", "0", "--every", "1"],
        env=_env(tmp_path),
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )
    try:
        # Starting takes a while on a busy machine (imports, migrations, workers).
        child.expect_exact(PROMPT, timeout=180)
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


def test_a_newcomer_creates_approves_and_sends_a_campaign(
    console: pexpect.spawn[str], tmp_path: Path
) -> None:
    """The README's first screen: the whole campaign, typed, and what guests got."""
    for answer, then in (
        ("/comms campaign new", "What should the campaign be called?"),
        ("RSVP reminder", "Send it by `email`, `sms` or `both`?"),
        ("both", "Who should get it?"),
        ("rsvp=pending", "What should it say?"),
        ("rsvp_reminder", "Compliance score"),
        ("send now", "Approve campaign 1"),
    ):
        console.sendline(answer)
        console.expect_exact(then)
        console.expect_exact(PROMPT)
    console.sendline("/click 1 as U_APPROVER")
    console.expect_exact("approved by @Avery Approver: sending has started")
    console.expect_exact(PROMPT)
    outbox = tmp_path / "outbox"
    emails = _wait_for(outbox, "*.eml")
    assert all("Reminder: will you join Alex & Sam" in e.read_text() for e in emails)
    # The console runs on the real clock: in the guests' night (quiet hours in
    # New York) their texts wait for 08:00, as they should.
    if not in_quiet_hours(datetime.now(UTC), [ZoneInfo("America/New_York")]):
        [texts] = _wait_for(outbox, "sms.jsonl")
        assert PENDING_GUEST in texts.read_text()
    console.sendline(f"/guest {PENDING_GUEST} yes 2")
    console.expect_exact(f"(text to {PENDING_GUEST})")
    console.expect_exact("party of 2")
    console.expect_exact(PROMPT)
    console.sendline("/comms campaign list")
    console.expect_exact("1. RSVP reminder")


def _wait_for(outbox: Path, pattern: str) -> list[Path]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [path for path in outbox.glob(pattern) if path.read_text().strip()]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"nothing matching {pattern} reached {outbox}")


def test_an_owner_erases_a_guest_after_the_private_question(console: pexpect.spawn[str]) -> None:
    console.sendline("/comms guests erase-person +12015550139 as U_OWNER")
    console.expect_exact("Erase everything held about +12015550139? That is Nora Scott")
    console.expect_exact("[1] Erase")
    console.expect_exact(PROMPT)
    console.sendline("/click 1 as U_OWNER")
    console.expect_exact("erased a person's data at their request")
    console.expect_exact("1 opt-out stays in force")


def test_a_guests_question_reaches_the_channel_and_a_restart_loses_no_text(
    console: pexpect.spawn[str], tmp_path: Path
) -> None:
    question = "what time is the ceremony?"
    console.sendline(f"/guest {PENDING_GUEST} {question}")
    console.expect_exact("no text back: the reply is for the planners")
    console.expect_exact(PROMPT)
    # Typed as in Slack, where picking #planning from the list makes it a link.
    console.sendline("/comms wedding set channel #planning")
    console.expect_exact("set channel of Alex & Sam to #planning.")
    console.sendline(f"/guest {PENDING_GUEST} {question}")
    console.expect_exact(f"replied by SMS: “{question}”")
    console.expect_exact("the reply is for the planners, noted above)")
    console.expect_exact(PROMPT)
    console.sendline("/quit")
    console.expect(pexpect.EOF, timeout=30)
    # A console started again sends texts of its own, not repeats of the first one's.
    with _running_console(tmp_path) as again:
        again.sendline(f"/guest {PENDING_GUEST} yes 2")
        again.expect_exact(f"(text to {PENDING_GUEST}) Evergreen Weddings & Events: Thank you!")
        again.expect_exact("RSVP: yes, party of 2.")

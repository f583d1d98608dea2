"""What the processes write to their logs, captured from real code paths: no secret
setting's value, no credential, no phone number and no email address gets through."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import text

from bot.log_setup import configure_logging, keep_out_of_logs
from dispatch.approval import approve_campaign
from handlers.app import create_app
from store.database import Database
from store.enums import CampaignState
from tests.dispatch_harness import (
    APPROVER,
    draft_for_approval,
    make_guests,
    midday_clock,
    running_dispatch,
    running_fakes,
    settings_for,
    wait_for_state,
)
from tests.fakes.twilio import AUTH_TOKEN
from tests.twilio_webhook_client import post_signed, text_from
from tests.web_harness import (
    INBOUND_EMAIL_PASSWORD,
    JWT_SECRET,
    TWILIO_AUTH_TOKEN,
    ClientFactory,
    app_settings,
)

# International numbers, North American ones written out, and bare runs of digits
# (timestamps and ids are shorter).
PHONES = re.compile(
    r"\+\d[\d ().-]{6,}\d|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}|(?<![\d.])\d{10,15}(?![\d.])"
)
EMAILS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def clean(output: str, *secrets: str) -> None:
    """Nothing personal or secret in ``output`` (and something was logged at all)."""
    assert output.strip(), "nothing was logged"
    for secret in secrets:
        assert secret not in output
    assert PHONES.findall(output) == [], PHONES.findall(output)
    assert EMAILS.findall(output) == [], EMAILS.findall(output)


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> pytest.CaptureFixture[str]:
    """The processes' logging, writing to this test's captured stderr."""
    configure_logging()
    capsys.readouterr()
    return capsys


async def test_a_failing_twilio_send_and_a_refused_email_log_no_address(
    sqlite_database_url: str, sqlite_database: Database, tmp_path: Path, logs: Any
) -> None:
    db = sqlite_database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 4)
    campaign_id = await draft_for_approval(db, organisation_id, wedding_id, planner)
    with running_fakes() as fakes:
        fakes.twilio.refuse = {"+12012000002": (400, 21211)}
        fakes.smtp.refuse = {
            "guest3@example.com": "550 5.1.1 <guest3@example.com>: Recipient address rejected"
        }
        settings = settings_for(sqlite_database_url, fakes, tmp_path, smtp_password="smtp-pw-4242")
        keep_out_of_logs(settings)
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    output = logs.readouterr().err
    failed = [line for line in output.splitlines() if "delivery failed" in line]
    assert len(failed) == 2, output
    assert any("is not a valid phone number" in line and "[phone]" in line for line in failed)
    assert any("Recipient address rejected" in line and "[email]" in line for line in failed)
    clean(output, AUTH_TOKEN, "smtp-pw-4242")


async def test_an_inbound_stop_that_fails_logs_neither_number_nor_words(
    aiohttp_client: ClientFactory, sqlite_database: Database, logs: Any
) -> None:
    await make_guests(sqlite_database, 2)
    # The database refuses the text: SQLAlchemy's error names the statement's
    # parameters — the sender's number among them.
    async with sqlite_database.engine.begin() as connection:
        await connection.execute(text("DROP TABLE inbound_messages"))
    url = sqlite_database.url.render_as_string(hide_password=False)
    settings = app_settings(url)
    keep_out_of_logs(settings)
    client = await aiohttp_client(create_app(settings))
    response = await post_signed(client, "/twilio/sms", text_from("+12012000001", "STOP"))
    assert response.status == 500
    output = logs.readouterr().err
    assert "request failed" in output
    assert "no such table: inbound_messages" in output
    assert "[phone]" in output
    clean(output, TWILIO_AUTH_TOKEN)


async def test_secret_settings_credentials_and_addresses_are_replaced_everywhere(
    logs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = app_settings(
        "postgresql+asyncpg://guestcomms:db-password-77@db.internal/guestcomms",
        redis_url="redis://:redis-password-88@cache:6379/0",
    )
    keep_out_of_logs(settings)
    log = structlog.get_logger("test")
    try:
        raise ConnectionError(
            "could not reach postgresql+asyncpg://guestcomms:db-password-77@db.internal "
            f"while texting +44 20 7946 0958 with token {TWILIO_AUTH_TOKEN}"
        )
    except ConnectionError:
        log.exception(
            "send failed",
            to="ann.lee@example.com",
            headers={"Authorization": "Basic QUMwMDA6dHdpbGlvLXRva2Vu", "Accept": "json"},
            jwt_secret=JWT_SECRET,
            note=f"inbound password {INBOUND_EMAIL_PASSWORD}",
            numbers=["+12015550104", "(201) 555-0105"],
        )
    library = logging.getLogger("aiohttp.server")
    try:
        raise ValueError("Authorization: Bearer xoxb-1234-5678-abcdefghij for jo@example.org")
    except ValueError:
        library.exception("Error handling request from %s", "+12015550106")
    # The library's line as any handler formats it (here pytest's, in a process the
    # root logger's on stderr): made clean when it was made.
    output = logs.readouterr().err + caplog.text
    assert "send failed" in output
    assert "Error handling request from [phone]" in output
    assert "Traceback" in output  # exceptions are still there, cleaned
    assert '"Accept": "json"' in output or "'Accept': 'json'" in output
    clean(
        output,
        "db-password-77",
        "redis-password-88",
        TWILIO_AUTH_TOKEN,
        JWT_SECRET,
        INBOUND_EMAIL_PASSWORD,
        "QUMwMDA6dHdpbGlvLXRva2Vu",
        "xoxb-1234",
    )

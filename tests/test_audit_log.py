"""The audit log: append-only in the database, request ids on its rows, and reading it
through ``/comms audit`` and ``guestcomms audit``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from bot.cli import main
from handlers.app import create_app
from store.audit import Actor, AuditRecord, record
from store.database import Database
from store.enums import CampaignState, Tier
from store.models import AuditEntry, Organisation
from store.repositories.organisations import OrganisationRepository
from tests.demo_org import campaign_waiting_for_approval
from tests.dispatch_harness import midday_clock, wait_for_state
from tests.slack_harness import CHANNEL, SlackBot, running_bot
from tests.unsubscribe_harness import seed_guest
from tests.web_harness import ClientFactory, app_settings

ACTOR = Actor("test")


async def _rows(database: Database) -> list[tuple[Any, ...]]:
    async with database.reading() as session:
        rows = await session.execute(
            select(
                AuditEntry.id,
                AuditEntry.organisation_id,
                AuditEntry.actor,
                AuditEntry.action,
                AuditEntry.entity_id,
                AuditEntry.after,
                AuditEntry.request_id,
            ).order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]


async def _organisation(database: Database, slug: str = "acme") -> int:
    async with database.transaction() as session:
        organisation = await OrganisationRepository(session).create(
            ACTOR, slug=slug, name=slug.title(), tier=Tier.STARTER
        )
        return organisation.id


@pytest.mark.parametrize(
    "tampering",
    [
        pytest.param("UPDATE audit_log SET action = 'campaign.approved'", id="update"),
        pytest.param("UPDATE audit_log SET after = NULL WHERE id = 1", id="update-one"),
        pytest.param("DELETE FROM audit_log", id="delete"),
        pytest.param("DELETE FROM audit_log WHERE id = 1", id="delete-one"),
    ],
)
async def test_the_database_refuses_to_change_or_delete_audit_rows(
    database: Database, tampering: str
) -> None:
    organisation_id = await _organisation(database)
    async with database.transaction() as session:
        await record(
            session,
            ACTOR,
            [AuditRecord(organisation_id, "campaign.rejected", "campaign", 7, after={"x": 1})],
        )
    before = await _rows(database)
    # Raw SQL on the engine, as someone with the application's credentials could.
    with pytest.raises(DBAPIError, match="audit_log is append-only"):
        async with database.engine.begin() as connection:
            await connection.execute(text(tampering))
    assert await _rows(database) == before


async def test_the_orm_cannot_change_audit_rows_either(database: Database) -> None:
    organisation_id = await _organisation(database)
    before = await _rows(database)
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.transaction() as session:
            await session.execute(
                update(AuditEntry)
                .where(AuditEntry.organisation_id == organisation_id)
                .values(actor="someone-else")
            )
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.transaction() as session:
            await session.execute(delete(AuditEntry))
    assert await _rows(database) == before


async def test_an_organisation_can_be_deleted_and_its_audit_rows_stay(
    database: Database,
) -> None:
    """organisation_id is no foreign key: SET NULL would be an UPDATE the trigger refuses."""
    organisation_id = await _organisation(database, "short-lived")
    before = await _rows(database)
    async with database.transaction() as session:
        await session.execute(delete(Organisation).where(Organisation.id == organisation_id))
    assert await _rows(database) == before
    assert before[0][1:4] == (organisation_id, "test", "organisation.created")


# Request ids: every row written while serving a request carries its X-Request-ID.


async def _latest(database: Database, action: str) -> AuditEntry:
    async with database.reading() as session:
        found = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc())
        )
    assert found is not None, f"no {action} row"
    return found


async def test_rows_written_for_a_slack_command_carry_its_request_id(
    database: Database, tmp_path: Path
) -> None:
    url = database.url.render_as_string(hide_password=False)
    async with running_bot(database, url, tmp_path, midday_clock()) as bot:
        response = await bot.command('wedding set venue "The Barn"')
        await bot.said("set venue of Alex & Sam to The Barn")
        row = await _latest(bot.database, "wedding.updated")
        assert row.request_id == response.headers["X-Request-ID"]
        assert row.actor == "slack:U_PLANNER"

        # Each request has its own id.
        granted = await bot.command("roles grant <@U_NEWBIE> viewer", user="U_OWNER")
        await bot.said("added <@U_NEWBIE> as viewer")
        assert (await _latest(bot.database, "member.role_granted")).request_id == (
            granted.headers["X-Request-ID"]
        )
        assert granted.headers["X-Request-ID"] != response.headers["X-Request-ID"]


async def test_rows_written_for_a_button_and_a_form_carry_their_request_ids(
    bot: SlackBot,
) -> None:
    approved = await campaign_waiting_for_approval(bot.database)
    pressed = await bot.click("campaign_approve", str(approved), user="U_APPROVER")
    await bot.said(f"Campaign {approved} approved by <@U_APPROVER>")
    row = await _latest(bot.database, "campaign.approved")
    assert (row.entity_id, row.request_id) == (str(approved), pressed.headers["X-Request-ID"])
    await wait_for_state(bot.database, approved, {CampaignState.COMPLETED})

    rejected = await campaign_waiting_for_approval(bot.database)
    submitted = await bot.submit_view(
        "campaign_reject_reason",
        {"reason": {"reason": {"type": "plain_text_input", "value": "Wrong date"}}},
        user="U_APPROVER",
        private_metadata=json.dumps({"campaign": rejected, "channel": CHANNEL}),
    )
    await bot.said("was rejected by <@U_APPROVER>")
    row = await _latest(bot.database, "campaign.rejected")
    assert (row.entity_id, row.request_id) == (str(rejected), submitted.headers["X-Request-ID"])


async def test_rows_written_for_a_webhook_carry_its_request_id(
    aiohttp_client: ClientFactory, database: Database
) -> None:
    guest = await seed_guest(database)
    app = create_app(app_settings(database.url.render_as_string(hide_password=False)))
    client: TestClient[Any, Any] = await aiohttp_client(app)
    response = await client.post(
        f"/u/{guest.token()}",
        data={"List-Unsubscribe": "One-Click"},
        headers={"X-Request-ID": "unsubscribe-req-1"},
    )
    assert response.status == 200
    assert (await _latest(database, "suppression.added")).request_id == "unsubscribe-req-1"


# Reading it: /comms audit


async def test_audit_lists_newest_first_in_pages_with_the_way_to_the_next(bot: SlackBot) -> None:
    for number in range(1, 24):
        await bot.command(f'wedding set venue "Hall {number}"')
        await bot.said(f"to Hall {number}.")
    await bot.command("audit", user="U_OWNER")
    told = await bot.told("Audit log of Evergreen Weddings", user="U_OWNER")
    lines = told.splitlines()
    assert "everything, newest first (times in America/New_York)" in lines[0]
    first = lines[1]
    assert "<@U_PLANNER>" in first
    assert "`wedding.updated`" in first
    assert "venue_name: Hall 22 → Hall 23" in lines[2]
    assert "request " in lines[2]
    assert lines[-1].startswith("20 rows shown; older ones: `/comms audit before #")
    again = lines[-1].split("`")[1].removeprefix("/comms ")
    newest_first = [int(line.split()[0].strip("*#")) for line in lines[1:-1:2]]
    assert newest_first == sorted(newest_first, reverse=True)

    await bot.command(again, user="U_OWNER")
    await bot.wait_for(lambda: len(bot.fake.ephemerals("U_OWNER")) == 2)
    second = bot.fake.ephemerals("U_OWNER")[1].splitlines()
    assert "older than #" in second[0]
    assert int(second[1].split()[0].strip("*#")) == newest_first[-1] - 1
    blocks = bot.fake.payloads("chat.postEphemeral")[-1]["blocks"]
    assert [blocks[0]["type"], blocks[-1]["type"]] == ["section", "context"]


async def test_audit_narrows_to_a_campaign_a_guest_or_a_date(bot: SlackBot) -> None:
    campaign_id = await campaign_waiting_for_approval(bot.database)
    await bot.command('wedding set venue "The Barn"')
    await bot.said("to The Barn")

    await bot.command(f"audit campaign {campaign_id}", user="U_OWNER")
    told = await bot.told(f"campaign {campaign_id} “Invitations”", user="U_OWNER")
    assert "`campaign.created` campaign" in told
    assert "state: draft → pending_approval" in told
    assert "wedding.updated" not in told

    await bot.command("audit guest lucia.alvarez@example.com", user="U_OWNER")
    told = await bot.told("guest Lucía Alvarez", user="U_OWNER")
    assert "`guest.created` guest" in told
    rows = told.split("\n", 1)[1]
    assert "name: [redacted]" in rows
    assert "lucia" not in rows.lower()

    await bot.command("audit since 2999-01-01", user="U_OWNER")
    told = await bot.told("since 2999-01-01", user="U_OWNER")
    assert "Nothing in the audit log matches." in told


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("audit campaign 999", "There is no campaign 999 in Evergreen Weddings"),
        ("audit campaign three", "“three” is not a campaign: give its number"),
        ("audit guest nobody@example.com", "No guest of Evergreen Weddings"),
        ("audit guest 12345", "name the guest by their email address or phone number"),
        ("audit since yesterday", "“yesterday” is not a date: write it as YYYY-MM-DD"),
        ("audit color blue", "I don't know “color” here"),
        ("audit campaign", "Say which campaign after “campaign”"),
    ],
)
async def test_bad_audit_questions_are_explained(bot: SlackBot, typed: str, fragment: str) -> None:
    await bot.command(typed, user="U_OWNER")
    await bot.told(fragment, user="U_OWNER")


# Reading it: guestcomms audit


@pytest.fixture
def database_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_cli_prints_the_same_listing_and_json(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-data"]) == 0
    capsys.readouterr()

    assert main(["audit", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "Audit log of Evergreen Weddings & Events — everything, newest first "
        "(times in America/New_York)"
    )
    assert " — cli — suppression.added suppression 1" in lines[1]
    assert lines[2] == "    set channel: sms; reason: stop; source: demo"
    assert lines[-1].startswith("2 rows shown; older ones: guestcomms audit --limit 2 --before ")
    again = lines[-1].split("older ones: guestcomms ")[1].split()

    assert main(again) == 0
    second = capsys.readouterr().out.splitlines()
    assert "older than #" in second[0]

    assert main(["audit", "--guest", "+12015550104", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["organisation"] == "demo"
    assert {entry["action"] for entry in answer["entries"]} >= {"guest.created"}
    assert all(entry["entity_type"] == "guest" for entry in answer["entries"])
    assert answer["entries"][0]["time"].endswith("+00:00")


def test_the_cli_refuses_what_it_cannot_read(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    capsys.readouterr()
    assert main(["audit", "--since", "2026-13-01"]) == 2
    assert capsys.readouterr().err == (
        "Cannot read the audit log: “2026-13-01” is not a date: write it as YYYY-MM-DD "
        "(or YYYY-MM-DD HH:MM), in America/New_York.\n"
    )
    assert main(["audit", "--organisation", "nope"]) == 2
    assert "Organisation 'nope' was not found." in capsys.readouterr().err

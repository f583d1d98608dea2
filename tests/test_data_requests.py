"""A guest's data requests through the CLI: export everything about one person and
nothing about anyone else; erase it everywhere, keeping their opt-outs in force."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.cli import main
from dispatch.approval import approve_campaign
from handlers.api_tokens import ApiTokens
from handlers.app import create_app
from store.database import Database
from store.enums import CampaignState, Channel, DeliveryStatus, Role, SuppressionReason, Tier
from store.guestlist.import_consent import ConsentConfirmation
from store.guestlist.importer import import_guest_csv
from store.models import AuditEntry, Delivery, Guest, Member, SlackMessage, Suppression, Wedding
from store.models.base import utcnow
from store.repositories.engagements import record_engagement
from store.repositories.organisations import OrganisationRepository, WeddingRepository
from store.repositories.suppressions import SuppressionLedger
from tests.data_keys import DATA_KEYS_ENV
from tests.dispatch_harness import (
    APPROVER,
    PLANNER,
    Backend,
    Fakes,
    deliveries,
    draft_for_approval,
    midday_clock,
    running_dispatch,
    running_fakes,
    settings_for,
    wait_for_state,
)
from tests.factories import TEST_ACTOR
from tests.personal_data import where_found
from tests.twilio_webhook_client import post_signed, text_from
from tests.web_harness import JWT_SECRET, ClientFactory, app_settings


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str

    @property
    def needles(self) -> list[str]:
        # The phone as it may be written elsewhere, too: without its +1.
        return [self.name, self.email, self.phone, self.phone.removeprefix("+1")]


ANN = Person("Ann Lee", "ann@example.com", "+12015550111")
BOB = Person("Bob Ray", "bob@example.com", "+12015550122")
CARA = Person("Cara Diaz", "cara@example.com", "+12015550133")
# Ann and Bob are guests of both weddings; Ann only by phone in the second.
FIRST_LIST = (
    "name,email,phone,sms_consent\n"
    f"{ANN.name},{ANN.email},{ANN.phone},yes\n"
    f"{BOB.name},{BOB.email},{BOB.phone},yes\n"
    f"{CARA.name},{CARA.email},{CARA.phone},no\n"
)
SECOND_LIST = f"name,email,phone\n{ANN.name},,{ANN.phone}\n{BOB.name},{BOB.email},{BOB.phone}\n"


@dataclass
class Seeded:
    organisation_id: int
    first_wedding: Wedding
    approver: Member
    planner: Member
    first_campaign: int


async def _seed(db: Database) -> Seeded:
    async with db.transaction() as session:
        organisations = OrganisationRepository(session)
        organisation = await organisations.create(
            TEST_ACTOR,
            slug="acme",
            name="Acme Weddings",
            tier=Tier.ENTERPRISE,
            postal_address="1 Market Street, Philadelphia, PA 19107",
            sender_name="Acme Weddings",
            sender_email="hello@acme.example.com",
            default_country="US",
            timezone="America/New_York",
        )
        weddings = WeddingRepository(session)
        first, second = [
            await weddings.create(
                TEST_ACTOR,
                organisation.id,
                slug=slug,
                couple_names=couple,
                wedding_date=day,
                venue_name="Willow Creek Barn",
                rsvp_link="https://example.com/rsvp",
                timezone="America/New_York",
            )
            for slug, couple, day in (
                ("ann-and-ben", "Ann & Ben", date(2027, 9, 4)),
                ("dee-and-eli", "Dee & Eli", date(2028, 5, 6)),
            )
        ]
        organisations = OrganisationRepository(session)
        planner = await organisations.add_member(
            PLANNER, organisation.id, slack_user_id="U_PLANNER", role=Role.PLANNER
        )
        approver = await organisations.add_member(
            APPROVER, organisation.id, slack_user_id="U_APPROVER", role=Role.APPROVER
        )
        await import_guest_csv(session, PLANNER, first, FIRST_LIST.encode())
        # No consent column: the planner confirmed in Slack that they agreed.
        await import_guest_csv(
            session,
            PLANNER,
            second,
            SECOND_LIST.encode(),
            sms_consent=ConsentConfirmation("They agreed to texts.", "slack:U_PLANNER"),
        )
    campaign_id = await draft_for_approval(db, organisation.id, first.id, planner)
    return Seeded(organisation.id, first, approver, planner, campaign_id)


async def _replies_and_more(db: Database, webhooks: TestClient[Any, Any], seeded: Seeded) -> None:
    """Replies by text (Ann answers and then stops; Bob answers), an unsubscribe by
    email, opens of the emails, and the guests' threads in Slack."""
    for sender, body in ((ANN, "Yes, 2 of us"), (BOB, "yes"), (ANN, "STOP")):
        response = await post_signed(webhooks, "/twilio/sms", text_from(sender.phone, body))
        assert response.status == 200
    async with db.transaction() as session:
        await SuppressionLedger(session).suppress(
            TEST_ACTOR,
            organisation_id=seeded.organisation_id,
            channel=Channel.EMAIL,
            address=ANN.email,
            reason=SuppressionReason.UNSUBSCRIBE,
            source="unsubscribe_link",
        )
        emails = await session.execute(
            select(Delivery.id, Delivery.guest_id).where(
                Delivery.campaign_id == seeded.first_campaign, Delivery.channel == Channel.EMAIL
            )
        )
        for delivery_id, guest_id in emails:
            await record_engagement(
                session,
                delivery_id=delivery_id,
                kind="open",
                url=None,
                user_agent="Mozilla/5.0 (iPhone)",
                ignored_because=None,
                at=utcnow(),
            )
            session.add(
                SlackMessage(
                    organisation_id=seeded.organisation_id,
                    purpose="guest_thread",
                    guest_id=guest_id,
                    channel_id="C_WEDDING",
                    ts=f"1700000000.{guest_id:06d}",
                )
            )


def _cli(args: list[str]) -> int:
    return main(args)


async def _run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(_cli, list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def _guest_ids(db: Database, person: Person) -> set[int]:
    async with db.reading() as session:
        rows = await session.scalars(
            select(Guest.id).where(
                (Guest.email_index == person.email) | (Guest.phone_index == person.phone)
            )
        )
        return set(rows)


async def _api(webhooks: TestClient[Any, Any], path: str) -> Any:
    token = ApiTokens([JWT_SECRET]).issue(Role.ADMIN)
    response = await webhooks.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    return await response.json()


@pytest.fixture
def cli_env(backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", backend.url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    for name, value in DATA_KEYS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)


async def test_export_and_erasure_of_one_person_through_the_cli(
    backend: Backend,
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    capsys: pytest.CaptureFixture[str],
    cli_env: None,
) -> None:
    db = backend.database
    seeded = await _seed(db)
    webhooks = await aiohttp_client(create_app(app_settings(backend.url, backend.redis_url)))
    with running_fakes() as fakes:
        settings = settings_for(backend.url, fakes, tmp_path, backend.redis_url)
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, seeded.first_campaign, seeded.approver, APPROVER)
            await wait_for_state(db, seeded.first_campaign, {CampaignState.COMPLETED})
            _never_texted_without_consent(fakes)
            await _replies_and_more(db, webhooks, seeded)
            ann_ids, bob_ids = await _guest_ids(db, ANN), await _guest_ids(db, BOB)

            code, out, err = await _run_cli(capsys, "guest", "export", ANN.email)
            assert code == 0, err
            _export_is_all_of_ann_and_nothing_else(json.loads(out), ann_ids, bob_ids)
            assert err.splitlines()[0] == (
                f"Everything Acme Weddings holds about {ANN.email} (also known by {ANN.phone}):"
            )

            # Not confirmed (no terminal to ask at): nothing changes.
            code, out, err = await _run_cli(capsys, "guest", "erase", ANN.email)
            assert code == 2
            assert err.startswith("Not erased: confirm with --yes (this would erase Ann Lee")
            assert await _guest_ids(db, ANN) == ann_ids

            # The scan finds what is there (so its empty answer below means something).
            found = await where_found(db, ANN.needles)
            assert f"guests.email: {ANN.email} (encrypted)" in found
            audit_rows = await _count(db, AuditEntry)
            code, out, err = await _run_cli(capsys, "guest", "erase", ANN.phone, "--yes")
            assert code == 0, err
            assert out.splitlines() == [
                "Erased 2 guest rows in 2 weddings, with 2 consent records and 1 Slack "
                "thread record.",
                "Kept as anonymous figures, with no guest, address or text: 2 messages, "
                "2 replies and 1 open or click.",
                "2 opt-outs stay in force, kept only as a keyed hash of the address.",
            ]
            await _nothing_of_ann_is_left(db, webhooks, bob_ids)
            # Audit rows were added (guest.erased, person.erased), none changed.
            assert await _count(db, AuditEntry) == audit_rows + 3

            # Ann is invited again: she is shown as opted out and gets nothing.
            (tmp_path / "again.csv").write_text(FIRST_LIST)
            code, out, err = await _run_cli(
                capsys, "import", "again.csv", "--wedding", str(seeded.first_wedding.id)
            )
            assert code == 0, err
            assert "  1 of these guests opted out earlier and will not be messaged." in out
            sent_before = (len(fakes.twilio.messages), len(fakes.smtp.messages))
            again = await draft_for_approval(
                db, seeded.organisation_id, seeded.first_wedding.id, seeded.planner
            )
            await approve_campaign(run.control, again, seeded.approver, APPROVER)
            await wait_for_state(db, again, {CampaignState.COMPLETED})
    rows = await deliveries(db, again)
    ann = {
        (r.channel, r.status, r.skip_reason) for r in rows if r.address in (ANN.email, ANN.phone)
    }
    assert ann == {
        (Channel.EMAIL, DeliveryStatus.SUPPRESSED, "suppressed:unsubscribe"),
        (Channel.SMS, DeliveryStatus.SUPPRESSED, "suppressed:stop"),
    }
    assert ANN.phone not in {m.to for m in fakes.twilio.messages[sent_before[0] :]}
    assert all(ANN.email not in str(m["To"]) for m in fakes.smtp.messages[sent_before[1] :])


def _never_texted_without_consent(fakes: Fakes) -> None:
    """Cara's list said sms_consent: no — she got her email, and no text."""
    texted = {message.to for message in fakes.twilio.messages}
    assert {ANN.phone, BOB.phone} <= texted
    assert CARA.phone not in texted


def _export_is_all_of_ann_and_nothing_else(
    document: dict[str, Any], ann_ids: set[int], bob_ids: set[int]
) -> None:
    request = document["request"]
    assert request["asked_for"] == {"channel": "email", "address": ANN.email}
    kinds = [key for key in document if key not in ("request", "about")]
    assert set(kinds) == set(document["about"]) == set(request["counts"])
    assert {kind: len(document[kind]) for kind in kinds} == request["counts"]
    assert request["counts"] == {
        "guests": 2,
        "consents": 2,  # the first list's column, the second list's confirmation
        "deliveries": 2,  # email and text of the first wedding's campaign
        "email_engagements": 1,
        "inbound_messages": 2,
        "suppressions": 2,  # her STOP and her unsubscribe
        "audit_log": request["counts"]["audit_log"],
        "slack_messages": 1,
        "events": 2,  # her two replies, told to the planners
        "members": 0,
    }
    assert {g["id"] for g in document["guests"]} == ann_ids
    assert sorted(g["wedding"]["couple_names"] for g in document["guests"]) == [
        "Ann & Ben",
        "Dee & Eli",
    ]
    assert sorted(c["source"] for c in document["consents"]) == ["import", "import_confirmation"]
    assert {d["address"] for d in document["deliveries"]} == {ANN.email, ANN.phone}
    assert [m["body"] for m in document["inbound_messages"]] == ["Yes, 2 of us", "STOP"]
    assert {(s["channel"], s["reason"]) for s in document["suppressions"]} == {
        ("sms", "stop"),
        ("email", "unsubscribe"),
    }
    # The audit rows are about her guest rows, her ledger entries, or what she did.
    audit = document["audit_log"]
    assert {"guest.created", "consent.recorded", "guest.rsvp", "suppression.added"} <= {
        row["action"] for row in audit
    }
    assert not [r for r in audit if r["entity_type"] == "guest" and int(r["entity_id"]) in bob_ids]
    text = json.dumps(document)
    for needle in (*BOB.needles, *CARA.needles):
        assert needle not in text


async def _nothing_of_ann_is_left(
    db: Database, webhooks: TestClient[Any, Any], bob_ids: set[int]
) -> None:
    assert await where_found(db, ANN.needles) == []
    # Bob's data is untouched.
    assert await _guest_ids(db, BOB) == bob_ids
    assert {
        "guests.email: bob@example.com (encrypted)",
        "guests.email_index: index of bob@example.com",
        "deliveries.address: bob@example.com",
    } <= set(await where_found(db, [BOB.email]))
    async with db.reading() as session:
        ledger = (await session.execute(select(Suppression.address, Suppression.lifted_at))).all()
    assert sorted(ledger, key=str) == [(None, None), (None, None)]  # both still in force
    phone = ANN.phone.replace("+", "%2B")
    found = await _api(webhooks, f"/api/admin/suppressions?channel=sms&address={phone}")
    assert (found["suppressed"], [h["erased"] for h in found["history"]]) == (True, [True])


async def _count(db: Database, model: Any) -> int:
    async with db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0

"""The suppression ledger: one entry per opt-out, lifted only by the guest, history kept."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from store.database import Database
from store.enums import Channel, SuppressionReason
from store.models import AuditEntry, Suppression
from store.repositories.suppressions import SuppressionLedger
from tests.factories import TEST_ACTOR, make_wedding

PHONE = "+12015550100"


async def _suppress(
    database: Database,
    organisation_id: int,
    reason: SuppressionReason = SuppressionReason.STOP,
    address: str = PHONE,
) -> bool:
    async with database.transaction() as session:
        return await SuppressionLedger(session).suppress(
            TEST_ACTOR,
            organisation_id=organisation_id,
            channel=Channel.SMS,
            address=address,
            reason=reason,
            source="test",
        )


async def _lift(database: Database, organisation_id: int) -> bool:
    async with database.transaction() as session:
        return await SuppressionLedger(session).lift(
            TEST_ACTOR,
            organisation_id=organisation_id,
            channel=Channel.SMS,
            address=PHONE,
            source="sms_start",
        )


async def _audit_actions(database: Database) -> list[str]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_type == "suppression")
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def test_opting_out_twice_is_one_opt_out(database: Database) -> None:
    organisation, _ = await make_wedding(database)
    assert await _suppress(database, organisation.id) is True
    assert await _suppress(database, organisation.id) is False
    async with database.transaction() as session:
        ledger = SuppressionLedger(session)
        entry = await ledger.active(organisation.id, Channel.SMS, PHONE)
        assert entry is not None
        assert entry.reason == SuppressionReason.STOP
        assert await ledger.count_by_reason(organisation.id) == {"stop": 1}
    assert await _audit_actions(database) == ["suppression.added"]


async def test_simultaneous_stops_give_one_entry(database: Database) -> None:
    organisation, _ = await make_wedding(database)
    results = await asyncio.gather(*(_suppress(database, organisation.id) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Suppression)) == 1


async def test_the_guests_start_lifts_their_stop_and_keeps_the_history(
    database: Database,
) -> None:
    organisation, _ = await make_wedding(database)
    await _suppress(database, organisation.id)
    assert await _lift(database, organisation.id) is True
    assert await _lift(database, organisation.id) is False
    async with database.transaction() as session:
        ledger = SuppressionLedger(session)
        assert await ledger.active(organisation.id, Channel.SMS, PHONE) is None
        history = (await session.scalars(select(Suppression))).all()
    assert [(e.reason, e.lifted_source) for e in history] == [(SuppressionReason.STOP, "sms_start")]
    # A later STOP is a new entry beside the lifted one.
    assert await _suppress(database, organisation.id) is True
    assert await _audit_actions(database) == [
        "suppression.added",
        "suppression.lifted",
        "suppression.added",
    ]


async def test_a_start_cannot_lift_a_bounce_or_complaint(database: Database) -> None:
    organisation, _ = await make_wedding(database)
    await _suppress(database, organisation.id, SuppressionReason.INVALID)
    assert await _lift(database, organisation.id) is False
    async with database.transaction() as session:
        entry = await SuppressionLedger(session).active(organisation.id, Channel.SMS, PHONE)
    assert entry is not None
    assert entry.reason == SuppressionReason.INVALID


async def test_suppression_belongs_to_one_organisation(database: Database) -> None:
    first, _ = await make_wedding(database, organisation_slug="first")
    second, _ = await make_wedding(database, organisation_slug="second")
    await _suppress(database, first.id)
    async with database.transaction() as session:
        ledger = SuppressionLedger(session)
        assert await ledger.active(second.id, Channel.SMS, PHONE) is None
        assert await ledger.active_among(first.id, [(Channel.SMS, PHONE)]) == {
            (Channel.SMS, PHONE): "stop"
        }
        assert await ledger.active_among(second.id, [(Channel.SMS, PHONE)]) == {}

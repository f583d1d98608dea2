"""The ledger's keyed address hashes: written with every entry, made for old entries by
the migration (with the data keys it is given), and what every check matches on."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.ledger_checks import LedgerChecks
from store.database import Database
from store.enums import Channel, SuppressionReason
from store.keyring import Keyring
from store.migrate import downgrade, migrate
from store.models import Suppression
from store.models.base import utcnow
from store.repositories.suppressions import SuppressionLedger, address_hash, entries_for
from store.settings import StoreSettings
from tests.data_keys import ENCRYPTION_KEY, INDEX_KEY
from tests.factories import TEST_ACTOR, make_wedding

PHONE = "+12015550100"
EMAIL = "ann@example.com"
KEYRING = Keyring.from_text([ENCRYPTION_KEY], INDEX_KEY)


async def _suppress(
    database: Database, organisation_id: int, channel: Channel, address: str
) -> None:
    async with database.transaction() as session:
        await SuppressionLedger(session).suppress(
            TEST_ACTOR,
            organisation_id=organisation_id,
            channel=channel,
            address=address,
            reason=SuppressionReason.STOP,
            source="test",
        )


async def test_each_entry_carries_the_keyed_hash_of_its_address(database: Database) -> None:
    organisation, _ = await make_wedding(database)
    await _suppress(database, organisation.id, Channel.SMS, PHONE)
    await _suppress(database, organisation.id, Channel.EMAIL, EMAIL)
    async with database.reading() as session:
        rows = (await session.execute(select(Suppression.channel, Suppression.address_hash))).all()
    # The guests' blind indexes use the same kinds, so one hash names one address.
    assert sorted(rows) == sorted(
        [
            (Channel.SMS, KEYRING.index("phone", PHONE)),
            (Channel.EMAIL, KEYRING.index("email", EMAIL)),
        ]
    )


async def test_an_entry_whose_address_was_cleared_still_matches(database: Database) -> None:
    organisation, _ = await make_wedding(database)
    await _suppress(database, organisation.id, Channel.SMS, PHONE)
    async with database.transaction() as session:
        await session.execute(update(Suppression).values(address=None))
    async with database.reading() as session:
        ledger = SuppressionLedger(session)
        assert await ledger.active_among(organisation.id, [(Channel.SMS, PHONE)]) == {
            (Channel.SMS, PHONE): "stop"
        }
        # A whole wedding's worth of addresses is read in one query of the ledger.
        many = [(Channel.SMS, f"+1201555{n:04d}") for n in range(1, 700)] + [(Channel.SMS, PHONE)]
        assert await ledger.active_among(organisation.id, many) == {(Channel.SMS, PHONE): "stop"}
    # The check right before each text leaves (at claim time) matches it too.
    checks = LedgerChecks(database, organisation.id, utcnow)
    assert (await checks.check(Channel.SMS, PHONE)).reason == "stop"
    # Opting out again is the same opt-out: the hash is what is unique.
    await _suppress(database, organisation.id, Channel.SMS, PHONE)
    async with database.reading() as session:
        assert len((await session.scalars(select(Suppression))).all()) == 1


async def _entries_before_hashes(database: Database, organisation_id: int) -> None:
    """The ledger as migration 0009 left it: addresses, no hashes."""
    await downgrade(database, "0009")
    async with database.engine.begin() as connection:
        for channel, address in (("sms", PHONE), ("email", EMAIL)):
            await connection.execute(
                text(
                    "INSERT INTO suppressions (organisation_id, channel, address, reason, "
                    "source, created_at) VALUES (:o, :c, :a, 'stop', 'test', CURRENT_TIMESTAMP)"
                ),
                {"o": organisation_id, "c": channel, "a": address},
            )


async def test_migrating_hashes_the_entries_already_there(database: Database) -> None:
    organisation, _ = await make_wedding(database)
    await _entries_before_hashes(database, organisation.id)

    await migrate(database)

    async with database.reading() as session:
        rows = (await session.execute(select(Suppression.address, Suppression.address_hash))).all()
        matched = await SuppressionLedger(session).active_among(
            organisation.id, [(Channel.SMS, PHONE), (Channel.EMAIL, EMAIL)]
        )
    assert sorted(rows) == sorted(
        [
            (PHONE, address_hash(KEYRING, Channel.SMS, PHONE)),
            (EMAIL, address_hash(KEYRING, Channel.EMAIL, EMAIL)),
        ]
    )
    assert matched == {(Channel.SMS, PHONE): "stop", (Channel.EMAIL, EMAIL): "stop"}


async def test_without_the_keys_the_migration_refuses_and_changes_nothing(
    database: Database,
) -> None:
    organisation, _ = await make_wedding(database)
    await _entries_before_hashes(database, organisation.id)
    url = database.url.render_as_string(hide_password=False)
    keyless = Database(StoreSettings.model_validate({"database_url": url, "redis_url": None}))
    try:
        with pytest.raises(
            RuntimeError, match=r"2 opt-out entries need a keyed hash.*DATA_INDEX_KEY"
        ):
            await migrate(keyless)
    finally:
        await keyless.dispose()
    async with database.engine.connect() as connection:
        version = (
            await connection.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar()
        count = (await connection.execute(text("SELECT count(*) FROM suppressions"))).scalar()
    assert (version, count) == ("0009", 2)
    await migrate(database)  # with the keys it goes through


async def test_an_empty_ledger_migrates_without_keys(database: Database) -> None:
    await downgrade(database, "0009")
    url = database.url.render_as_string(hide_password=False)
    keyless = Database(StoreSettings.model_validate({"database_url": url, "redis_url": None}))
    try:
        await migrate(keyless)
    finally:
        await keyless.dispose()


async def _lift(database: Database, organisation_id: int, address: str) -> None:
    async with database.transaction() as session:
        lifted = await SuppressionLedger(session).lift(
            TEST_ACTOR,
            organisation_id=organisation_id,
            channel=Channel.SMS,
            address=address,
            source="sms_start",
        )
    assert lifted


async def test_an_address_history_holds_its_lifted_and_active_entries(
    database: Database,
) -> None:
    acme, _ = await make_wedding(database)
    other, _ = await make_wedding(database, organisation_slug="other")
    await _suppress(database, acme.id, Channel.SMS, PHONE)
    await _lift(database, acme.id, PHONE)
    await _suppress(database, acme.id, Channel.SMS, PHONE)  # a later STOP: a new entry
    await _suppress(database, other.id, Channel.SMS, PHONE)
    await _suppress(database, acme.id, Channel.SMS, "+12015550199")  # someone else
    await _suppress(database, acme.id, Channel.EMAIL, EMAIL)

    async def found(organisation_id: int | None) -> list[tuple[int, Channel, bool]]:
        condition = entries_for(KEYRING, [(Channel.SMS, PHONE)], organisation_id)
        async with database.reading() as session:
            rows = await session.execute(
                select(Suppression.organisation_id, Suppression.channel, Suppression.lifted_at)
                .where(condition)
                .order_by(Suppression.id)
            )
            return [(o, channel, lifted is not None) for o, channel, lifted in rows]

    assert await found(acme.id) == [(acme.id, Channel.SMS, True), (acme.id, Channel.SMS, False)]
    assert await found(None) == [
        (acme.id, Channel.SMS, True),
        (acme.id, Channel.SMS, False),
        (other.id, Channel.SMS, False),
    ]


def _history_query(session: AsyncSession, organisation_id: int | None) -> str:
    """Two addresses' entries, as the database's own SQL (for EXPLAIN)."""
    condition = entries_for(
        KEYRING, [(Channel.SMS, PHONE), (Channel.EMAIL, EMAIL)], organisation_id
    )
    query = select(Suppression.id).where(condition)
    return str(query.compile(session.bind, compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize("organisation_id", [1, None], ids=["one organisation", "all"])
async def test_an_address_history_is_read_by_index_not_by_scanning_the_ledger(
    sqlite_database: Database, organisation_id: int | None
) -> None:
    # Each side by its partial index; SQLite (no statistics) took an equality both
    # sides shared to the organisation's whole range of the address index.
    async with sqlite_database.reading() as session:
        sql = _history_query(session, organisation_id)
        plan = [row[-1] for row in await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
    searches = [step for step in plan if step.startswith("SEARCH suppressions")]
    assert not [step for step in plan if step.startswith("SCAN suppressions")], plan
    assert len(searches) == 4, plan  # two addresses, each active and lifted
    assert {step.split(" USING ")[1].split(" ")[1] for step in searches} == {
        "uq_suppressions_active_address_hash",
        "ix_suppressions_lifted_address_hash",
    }, plan


@pytest.mark.integration
@pytest.mark.parametrize("organisation_id", [1, None], ids=["one organisation", "all"])
async def test_an_address_history_can_be_read_by_index_on_postgresql(
    postgres_database: Database, organisation_id: int | None
) -> None:
    # Its planner only filters with an IN subquery under an OR: ANY (ARRAY(…)) it
    # takes to an index's leading column. (Scans made dear: a table this small is
    # scanned anyway; the question is whether an index can serve at all. Which
    # one it takes depends on statistics: the partial indexes, on a real ledger.)
    async with postgres_database.reading() as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        sql = _history_query(session, organisation_id)
        plan = "\n".join(row[0] for row in await session.execute(text(f"EXPLAIN {sql}")))
    assert "Seq Scan on suppressions" not in plan, plan
    assert "Index Cond: (organisation_id = ANY" in plan, plan

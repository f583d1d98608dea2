"""Guests' personal data at rest: what the database holds, read with plain SQL.

Guests arrive through the CLI (the demo wedding, a CSV import and a
re-import that changes them); then every table is read raw, bypassing the
models, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text

from bot.cli import main
from store.database import Database
from store.demo import OPTED_OUT_PHONE
from store.enums import Channel
from store.keyring import is_encrypted
from store.models import Base, Guest, Wedding
from store.repositories.inbound import guest_replying
from store.segments import parse_segment, segment_guests
from tests.data_keys import DATA_KEYS_ENV

FIRST = (
    "email,name,phone,dietary_requirements,plus_one\n"
    "ines.ortega@example.com,Inês Ortega,+12015550170,shellfish allergy,yes\n"
    "bo.lindqvist@example.com,Bo Lindqvist,,vegetarian,no\n"
)
# The same guests, changed: a phone added, a dietary need rewritten.
SECOND = (
    "email,name,phone,dietary_requirements,plus_one\n"
    "ines.ortega@example.com,Inês Ortega,+12015550170,no shellfish please,yes\n"
    "bo.lindqvist@example.com,Bo Lindqvist,+12015550171,vegetarian,no\n"
)
CLEAR = (
    "Inês Ortega",
    "ines.ortega@example.com",
    "+12015550170",
    "shellfish",
    "Bo Lindqvist",
    "bo.lindqvist@example.com",
    "+12015550171",
    "Maria Alvarez",  # demo guests
    "maria.alvarez@example.com",
    "+12015550103",
    "gluten-free",
)
SEALED = ("name", "email", "phone", "dietary_requirements")
HEX = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def cli_env(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", database.url.render_as_string(hide_password=False))
    monkeypatch.delenv("REDIS_URL", raising=False)
    for name, value in DATA_KEYS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def _raw_rows(database: Database, table: str) -> list[dict[str, Any]]:
    async with database.engine.connect() as connection:
        result = await connection.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608
        return [dict(row._mapping) for row in result]


async def test_no_table_holds_guests_data_in_clear(database: Database, cli_env: Path) -> None:
    assert await _cli("demo-data") == 0
    (cli_env / "first.csv").write_text(FIRST)
    (cli_env / "second.csv").write_text(SECOND)
    assert await _cli("import", "first.csv") == 0
    assert await _cli("import", "second.csv") == 0

    guests = await _raw_rows(database, "guests")
    assert len(guests) == 42
    for row in guests:
        for field in SEALED:
            assert row[field] is None or is_encrypted(row[field]), (field, row[field])
        for field in ("email", "phone"):
            index = row[f"{field}_index"]
            assert (index is None) == (row[field] is None)
            assert index is None or HEX.fullmatch(index)
    # Not a clear value anywhere in the database (the opt-out ledger keeps the
    # demo's one opted-out number, as it must to honour it).
    for table in Base.metadata.sorted_tables:
        dump = " ".join(
            str(value) for row in await _raw_rows(database, table.name) for value in row.values()
        )
        for value in CLEAR:
            assert value not in dump, (table.name, value)
        if table.name != "suppressions":
            assert OPTED_OUT_PHONE not in dump, table.name

    # What the planner sees is unchanged: the values, and the lookups.
    async with database.reading() as session:
        ines = await session.scalar(
            select(Guest).where(Guest.email_index == "ines.ortega@example.com")
        )
        assert ines is not None
        assert (ines.name, ines.phone, ines.dietary_requirements) == (
            "Inês Ortega",
            "+12015550170",
            "no shellfish please",
        )
        organisation_id = await session.scalar(
            select(Wedding.organisation_id).where(Wedding.id == ines.wedding_id)
        )
        assert organisation_id is not None
        bo = await guest_replying(session, organisation_id, Channel.SMS, "+12015550171")
        assert bo is not None
        assert bo.name == "Bo Lindqvist"
        vegetarians = await segment_guests(
            session, ines.wedding_id, parse_segment("dietary=VEGETARIAN")
        )
        assert "Bo Lindqvist" in {guest.name for guest in vegetarians}


async def test_equal_values_never_look_equal_at_rest(database: Database, cli_env: Path) -> None:
    assert await _cli("demo-data") == 0
    dietary = [row["dietary_requirements"] for row in await _raw_rows(database, "guests")]
    sealed = [value for value in dietary if value is not None]
    # Several demo guests are vegetarian; each is sealed with its own nonce.
    assert len(set(sealed)) == len(sealed) > 5


def test_comparing_an_encrypted_column_with_a_value_is_refused() -> None:
    with pytest.raises(TypeError, match=r"guests\.email is encrypted: compare its blind index"):
        select(Guest).where(Guest.email == "ann@example.com")
    with pytest.raises(TypeError, match="encrypted"):
        select(Guest).where(Guest.name.like("%Ann%"))
    # Whether it is set can still be asked in SQL.
    assert "IS NOT NULL" in str(select(Guest).where(Guest.phone.is_not(None)))


async def test_a_guest_copied_through_the_model_keeps_its_index(
    database: Database, cli_env: Path
) -> None:
    assert await _cli("demo-data") == 0
    async with database.transaction() as session:
        maria = await session.scalar(
            select(Guest).where(Guest.email_index == "maria.alvarez@example.com")
        )
        assert maria is not None
        # What was read (clear values, the index's hash) written back as it is.
        copy = {
            column.key: getattr(maria, column.key)
            for column in Guest.__table__.columns
            if column.key != "id"
        }
        await session.execute(delete(Guest).where(Guest.id == maria.id))
        await session.execute(insert(Guest), [copy])
    async with database.reading() as session:
        again = await session.scalar(
            select(Guest).where(Guest.email_index == "maria.alvarez@example.com")
        )
    assert again is not None
    assert (again.name, again.phone) == ("Maria Alvarez", "+12015550100")

"""Rotating the data keys, and rows still in clear, through ``guestcomms rotate-keys``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import main
from handlers.app import create_app
from store.audit import CLI
from store.database import Database
from store.demo import load_demo_data
from store.enums import RsvpStatus
from store.key_rotation import RotationReport, rotate_keys
from store.keyring import Keyring, is_encrypted, new_key
from store.models import AuditEntry, Base, Guest
from store.settings import StoreSettings
from tests.twilio_webhook_client import post_signed, text_from
from tests.web_harness import ClientFactory, app_settings

OLD, NEW, INDEX = new_key(), new_key(), new_key()
# Grace Kim of the demo wedding (guest 5): a phone, and no answer yet.
GRACE = "+12015550104"
GRACE_ID = 5


@pytest.fixture(autouse=True)
async def _forget_this_files_keys(database: Database) -> AsyncIterator[None]:
    """The PostgreSQL database is shared by the run's tests, some of which read what
    is there with the usual test keys: nothing sealed with this file's keys stays."""
    yield
    if database.url.get_backend_name() == "postgresql":
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        async with database.engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def cli(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The CLI on the test's database with keys the test chooses (``keys``)."""
    monkeypatch.setenv("DATABASE_URL", _url(database))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("DATA_INDEX_KEY", INDEX)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _url(database: Database) -> str:
    return database.url.render_as_string(hide_password=False)


async def _cli(monkeypatch: pytest.MonkeyPatch, keys: list[str], *argv: str) -> int:
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", ",".join(keys))
    return await asyncio.to_thread(main, list(argv))


def _store(database: Database, keys: list[str]) -> StoreSettings:
    return StoreSettings(
        database_url=_url(database),
        redis_url=None,
        data_encryption_keys=",".join(keys),
        data_index_key=INDEX,
    )


async def _key_ids(database: Database) -> dict[str, int]:
    """How many stored values each key id (or "clear") holds."""
    counts: dict[str, int] = {}
    async with database.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT name, email, phone, dietary_requirements FROM guests")
        )
        for row in rows:
            for value in row:
                if value is not None:
                    key = value.split(":")[1] if is_encrypted(value) else "clear"
                    counts[key] = counts.get(key, 0) + 1
    return counts


@asynccontextmanager
async def _reading(database: Database, keys: list[str]) -> AsyncIterator[AsyncSession]:
    """A session on the test's database that holds ``keys``."""
    other = Database(_store(database, keys))
    try:
        async with other.reading() as session:
            yield session
    finally:
        await other.dispose()


async def _export(database: Database, keys: list[str]) -> list[tuple[Any, ...]]:
    async with _reading(database, keys) as session:
        guests = await session.scalars(select(Guest).order_by(Guest.id))
        return [(g.name, g.email, g.phone, g.dietary_requirements) for g in guests]


async def _text_rsvp(
    aiohttp_client: ClientFactory, database: Database, keys: list[str], sender: str
) -> None:
    """A guest's "yes 2" through the real webhook, served with ``keys``."""
    settings = app_settings(_url(database))
    settings = replace(settings, store=_store(database, keys))
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    response = await post_signed(client, "/twilio/sms", text_from(sender, "yes 2"))
    assert response.status == 200


async def test_rotation_moves_every_value_to_the_new_key_and_the_old_one_can_go(
    database: Database,
    cli: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    aiohttp_client: ClientFactory,
) -> None:
    assert await _cli(cli, [OLD], "demo-data") == 0
    before = await _export(database, [OLD])
    old_id, new_id = (Keyring.from_text([key], INDEX).current_key_id for key in (OLD, NEW))
    assert set(await _key_ids(database)) == {old_id}
    capsys.readouterr()

    assert await _cli(cli, [NEW, OLD], "rotate-keys", "--batch-size", "7") == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"Re-encrypted 40 of 40 guests with key {new_id} (0 of them were still in clear).",
        f"Every guest's data is under key {new_id}: the other keys may now be removed "
        "from DATA_ENCRYPTION_KEYS.",
    ]
    assert "  7 guests examined, 7 re-encrypted" in err.splitlines()
    assert set(await _key_ids(database)) == {new_id}
    async with database.reading() as session:
        audited = await session.scalar(
            select(func.sum(AuditEntry.after["guests"].as_integer())).where(
                AuditEntry.action == "guests.resealed"
            )
        )
    assert audited == 40

    # The old key removed: everything still reads, and replies still find guests.
    assert await _export(database, [NEW]) == before
    await _text_rsvp(aiohttp_client, database, [NEW], GRACE)
    async with _reading(database, [NEW]) as session:
        grace = await session.scalar(select(Guest).where(Guest.phone_index == GRACE))
    assert grace is not None
    assert (grace.name, grace.rsvp_status, grace.party_size) == (
        "Grace Kim",
        RsvpStatus.CONFIRMED,
        2,
    )

    # Nothing left to do: a second run rewrites nothing.
    assert await _cli(cli, [NEW], "rotate-keys") == 0
    assert capsys.readouterr().out.startswith(f"Re-encrypted 0 of 40 guests with key {new_id}")


async def test_a_value_under_a_key_no_longer_held_is_named(
    database: Database, cli: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli(cli, [OLD], "demo-data") == 0
    capsys.readouterr()
    old_id = Keyring.from_text([OLD], INDEX).current_key_id
    # The old key dropped before rotating: the command says which key is missing.
    assert await _cli(cli, [NEW], "rotate-keys") == 1
    assert capsys.readouterr().err == (
        "guestcomms rotate-keys cannot read guests' personal data: A value is encrypted "
        f"with key {old_id}, which is not configured.\n"
    )
    assert set(await _key_ids(database)) == {old_id}


async def test_an_interrupted_rotation_resumes_where_it_stopped(database: Database) -> None:
    first = Database(_store(database, [OLD]))
    try:
        async with first.transaction() as session:
            await load_demo_data(session, CLI)
    finally:
        await first.dispose()
    rotating = Database(_store(database, [NEW, OLD]))
    new_id = rotating.keyring.current_key_id

    def stop_after_two_batches(report: RotationReport) -> None:
        if report.examined >= 20:
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            await rotate_keys(rotating, CLI, batch_size=10, on_batch=stop_after_two_batches)
        assert (await _key_ids(database)).get(new_id, 0) > 0  # two batches are kept
        report = await rotate_keys(rotating, CLI, batch_size=10)
    finally:
        await rotating.dispose()
    assert (report.examined, report.resealed, report.remaining) == (40, 20, 0)
    assert set(await _key_ids(database)) == {new_id}


async def test_rows_still_in_clear_are_sealed_and_indexed(
    database: Database,
    cli: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    aiohttp_client: ClientFactory,
) -> None:
    assert await _cli(cli, [OLD], "demo-data") == 0
    # As a backup taken before encryption would restore them: values in
    # clear, no blind index.
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE guests SET name = 'Grace Kim', email = 'grace.kim@example.com', "
                "phone = :phone, dietary_requirements = 'no nuts', "
                "email_index = NULL, phone_index = NULL WHERE id = :id"
            ),
            {"phone": GRACE, "id": GRACE_ID},
        )
    assert (await _key_ids(database))["clear"] == 4
    # Read as it is meanwhile; only the lookup by address waits for the index.
    async with _reading(database, [OLD]) as session:
        grace = await session.get(Guest, GRACE_ID)
        assert grace is not None
        assert (grace.name, grace.dietary_requirements) == ("Grace Kim", "no nuts")
        assert await session.scalar(select(Guest).where(Guest.phone_index == GRACE)) is None
    capsys.readouterr()

    assert await _cli(cli, [OLD], "rotate-keys") == 0
    assert (
        capsys.readouterr().out.splitlines()[0].startswith("Re-encrypted 1 of 40 guests with key")
    )
    assert "clear" not in await _key_ids(database)
    await _text_rsvp(aiohttp_client, database, [OLD], GRACE)
    async with _reading(database, [OLD]) as session:
        grace = await session.get(Guest, GRACE_ID)
    assert grace is not None
    assert (grace.name, grace.rsvp_status) == ("Grace Kim", RsvpStatus.CONFIRMED)


async def test_an_index_left_behind_by_an_address_change_is_mended(
    database: Database, cli: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli(cli, [OLD], "demo-data") == 0
    writer = Database(_store(database, [OLD]))
    try:
        # A Core update that changes the address and forgets its index (which
        # `with_indexes` would have set).
        async with writer.transaction() as session:
            await session.execute(
                update(Guest).where(Guest.id == GRACE_ID).values(phone="+12015550188")
            )
    finally:
        await writer.dispose()
    async with _reading(database, [OLD]) as session:
        assert await session.scalar(select(Guest).where(Guest.phone_index == GRACE)) is not None
    capsys.readouterr()

    assert await _cli(cli, [OLD], "rotate-keys") == 0
    assert capsys.readouterr().out.startswith("Re-encrypted 1 of 40 guests")
    async with _reading(database, [OLD]) as session:
        assert await session.scalar(select(Guest).where(Guest.phone_index == GRACE)) is None
        moved = await session.scalar(select(Guest).where(Guest.phone_index == "+12015550188"))
    assert moved is not None
    assert moved.name == "Grace Kim"

"""Exports open safely in spreadsheets, carry every field, and import back unchanged."""

from __future__ import annotations

import csv
import io
import json

import pytest

from store.database import Database
from store.demo import load_demo_data
from store.guestlist.export import load_guests, neutralise_formula, to_csv, to_json
from store.guestlist.importer import import_guest_csv
from store.repositories.organisations import WeddingRepository
from tests.factories import TEST_ACTOR, make_wedding


@pytest.mark.parametrize(
    ("cell", "exported"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1 call me", "'+1 call me"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tleading tab", "'\tleading tab"),
        ("\rleading return", "'\rleading return"),
        ("vegetarian", "vegetarian"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralised(cell: str, exported: str) -> None:
    assert neutralise_formula(cell) == exported


async def test_a_hostile_guest_name_exports_as_text(database: Database) -> None:
    _, wedding = await make_wedding(database)
    async with database.transaction() as session:
        await import_guest_csv(
            session,
            TEST_ACTOR,
            wedding,
            b"name,email\n\"=cmd|'/C calc'!A0\",eve@example.com\n",
        )
        guests = await load_guests(session, wedding.id)
    rows = list(csv.DictReader(io.StringIO(to_csv(guests))))
    assert rows[0]["name"] == "'=cmd|'/C calc'!A0"


async def test_json_export_lists_every_field_a_planner_needs(database: Database) -> None:
    async with database.transaction() as session:
        await load_demo_data(session, TEST_ACTOR)
        wedding = await WeddingRepository(session).resolve(None)
        guests = json.loads(to_json(await load_guests(session, wedding.id)))
    assert len(guests) == 40
    maria = next(guest for guest in guests if guest["name"] == "Maria Alvarez")
    assert maria == {
        "name": "Maria Alvarez",
        "email": "maria.alvarez@example.com",
        "phone": "+12015550100",
        "rsvp_status": "confirmed",
        "party_size": 2,
        "dietary_requirements": None,
        "plus_one": True,
        "groups": ["family"],
        "timezone": None,
        "preferred_channel": None,
        "custom_fields": {},
    }


async def test_a_csv_export_imports_back_unchanged(database: Database) -> None:
    async with database.transaction() as session:
        await load_demo_data(session, TEST_ACTOR)
        wedding = await WeddingRepository(session).resolve(None)
        # Every optional field set somewhere, so the round trip covers them all.
        await import_guest_csv(
            session,
            TEST_ACTOR,
            wedding,
            b"name,phone,timezone,preferred_channel,table\n"
            b"Henry Kim,+12015550105,America/Chicago,sms,=7\n",
        )
        exported = to_csv(await load_guests(session, wedding.id))
    _, empty_wedding = await make_wedding(database, wedding_slug="copy")

    async with database.transaction() as session:
        into_same = await import_guest_csv(session, TEST_ACTOR, wedding, exported.encode())
        into_new = await import_guest_csv(session, TEST_ACTOR, empty_wedding, exported.encode())
        copied = to_csv(await load_guests(session, empty_wedding.id))

    assert (into_same.added, into_same.updated, into_same.unchanged) == (0, 0, 40)
    assert (into_new.added, into_new.problems) == (40, [])
    assert copied == exported

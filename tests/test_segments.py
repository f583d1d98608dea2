"""Audience segments: what planners may write, what they get told, and one query per count."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from dispatch.compose.preview import preview_campaign
from dispatch.settings import DispatchSettings
from store.database import Database
from store.demo import load_demo_data
from store.errors import SegmentError
from store.guestlist.export import ExportedGuest, load_guests
from store.guestlist.importer import import_guest_csv
from store.models import Campaign, Guest, Wedding
from store.models.base import utcnow
from store.repositories.organisations import WeddingRepository
from store.segments import by_name, count_segment, parse_segment, segment_guests
from tests.factories import TEST_ACTOR, make_wedding


@contextmanager
def counting_statements(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def _demo(database: Database) -> Wedding:
    async with database.transaction() as session:
        await load_demo_data(session, TEST_ACTOR)
        return await WeddingRepository(session).resolve(None)


async def _names(database: Database, wedding: Wedding, expression: str) -> set[str]:
    async with database.transaction() as session:
        guests = await segment_guests(session, wedding.id, parse_segment(expression))
        return {guest.name for guest in guests}


async def _count(database: Database, wedding: Wedding, expression: str) -> int:
    async with database.transaction() as session:
        return await count_segment(session, wedding.id, parse_segment(expression))


Predicate = Callable[[ExportedGuest], bool]


def _diet(guest: ExportedGuest) -> str:
    return (guest.dietary_requirements or "").lower()


# Each expression beside the same question asked in Python of the exported list.
CASES: list[tuple[str, Predicate]] = [
    ("", lambda g: True),
    ("all", lambda g: True),
    ("rsvp=pending", lambda g: g.rsvp_status == "pending"),
    ("rsvp=confirmed", lambda g: g.rsvp_status == "confirmed"),
    ("rsvp=pending,declined", lambda g: g.rsvp_status in {"pending", "declined"}),
    ("plus_one=yes", lambda g: g.plus_one),
    ("plus_one=no rsvp=confirmed", lambda g: not g.plus_one and g.rsvp_status == "confirmed"),
    ("group=family", lambda g: "family" in g.groups),
    ('group="bridal party"', lambda g: "bridal party" in g.groups),
    ("group=FAMILY,college", lambda g: bool({"family", "college"} & set(g.groups))),
    ("channel=sms", lambda g: g.phone is not None),
    ("channel=sms channel=email", lambda g: g.phone is not None and g.email is not None),
    ("channel=sms,email", lambda g: True),
    ("dietary=vegan,vegetarian", lambda g: "vegan" in _diet(g) or "vegetarian" in _diet(g)),
    ("dietary=any", lambda g: _diet(g) != ""),
    ("dietary=none", lambda g: _diet(g) == ""),
    ("dietary=ALLERGY", lambda g: "allergy" in _diet(g)),
    (
        "rsvp=pending group=family channel=sms",
        lambda g: g.rsvp_status == "pending" and "family" in g.groups and g.phone is not None,
    ),
]


@pytest.mark.parametrize(("expression", "predicate"), CASES, ids=[c[0] or "empty" for c in CASES])
async def test_segments_select_the_guests_they_describe(
    database: Database, expression: str, predicate: Predicate
) -> None:
    wedding = await _demo(database)
    async with database.transaction() as session:
        everyone = await load_guests(session, wedding.id)
    expected = {guest.name for guest in everyone if predicate(guest)}
    assert expected, "each case should select someone from the demo data"

    assert await _names(database, wedding, expression) == expected
    assert await _count(database, wedding, expression) == len(expected)
    # A campaign's preview selects the same guests (it reads them its own way).
    async with database.reading() as session:
        draft = Campaign(
            organisation_id=wedding.organisation_id,
            wedding_id=wedding.id,
            name="Preview",
            channels=["email", "sms"],
            audience=expression,
            template_key="invitation",
            day_of_logistics=False,
        )
        preview = await preview_campaign(session, draft, DispatchSettings(), utcnow())
    assert preview.audience_size == len(expected)
    planned = {d.guest.name for d in preview.plan.deliveries}
    skipped = {s.guest.name for s in preview.plan.skipped}
    assert planned | skipped == expected


async def test_a_segment_selects_by_meaning(database: Database) -> None:
    wedding = await _demo(database)
    assert await _names(database, wedding, 'group="bridal party"') == {
        "Daniel Kim",
        "Zoë Müller",
        "Priya Natarajan",
    }
    assert await _names(database, wedding, "dietary=nut") == {"Aisha Bello"}


async def test_like_wildcards_in_values_are_taken_literally(database: Database) -> None:
    wedding = await _demo(database)
    assert await _count(database, wedding, "dietary=%") == 0
    assert await _count(database, wedding, "dietary=_") == 0


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "rsvpp=pending",
            "There is no field “rsvpp”. Did you mean “rsvp”? "
            "Fields: rsvp, dietary, plus_one, group, channel.",
        ),
        (
            "colour=blue",
            "There is no field “colour”. Fields: rsvp, dietary, plus_one, group, channel.",
        ),
        ("rsvp=maybe", "“maybe” is not a value of rsvp: use confirmed, pending or declined."),
        ("rsvp=pending,", "rsvp=pending,"),  # a trailing comma is harmless
        ("channel=fax", "“fax” is not a value of channel: use sms or email."),
        ("plus_one=perhaps", "“perhaps” is not a value of plus_one: use yes, no, true or false."),
        ("rsvp=", "“rsvp=” needs a value, for example rsvp=pending."),
        ("pending", "“pending” is not a filter: write field=value, for example rsvp=pending."),
        ('group="bridal party', 'A quote is not closed in “group="bridal party”.'),
    ],
)
def test_unreadable_segments_say_what_is_wrong(expression: str, message: str) -> None:
    if message == expression:
        assert parse_segment(expression).describe() == "rsvp is pending"
        return
    with pytest.raises(SegmentError) as refused:
        parse_segment(expression)
    assert str(refused.value) == message


def test_segments_describe_themselves_in_words() -> None:
    assert parse_segment("rsvp=pending,declined group=family").describe() == (
        "rsvp is pending or declined and group is family"
    )
    assert parse_segment("").describe() == "all guests"


async def test_counting_ten_thousand_guests_is_one_query(database: Database) -> None:
    _, wedding = await make_wedding(database)
    async with database.transaction() as session:
        await session.execute(
            insert(Guest),
            [
                {
                    "wedding_id": wedding.id,
                    "name": f"Guest {n}",
                    "email": f"g{n}@example.com",
                    "rsvp_status": "pending" if n % 2 else "confirmed",
                    "party_size": 1,
                    "plus_one": n % 3 == 0,
                    "custom_fields": {},
                }
                for n in range(10_000)
            ],
        )
    segment = parse_segment("rsvp=pending plus_one=yes channel=email")
    async with database.transaction() as session:
        with counting_statements(database) as statements:
            count = await count_segment(session, wedding.id, segment)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1
    assert count == sum(1 for n in range(10_000) if n % 2 and n % 3 == 0)
    # The values travel as parameters, never inside the SQL text.
    assert "pending" not in selects[0]


async def test_segment_values_never_reach_the_sql_text(database: Database) -> None:
    wedding = await _demo(database)
    hostile = 'group="x\') OR 1=1 --"'
    with counting_statements(database) as statements:
        assert await _count(database, wedding, hostile) == 0
    assert not any("OR 1=1" in statement for statement in statements)
    async with database.transaction() as session:
        assert len((await session.scalars(select(Guest))).all()) == 40


async def test_dietary_matching_ignores_case_beyond_ascii(database: Database) -> None:
    _, wedding = await make_wedding(database)
    async with database.transaction() as session:
        await import_guest_csv(
            session,
            TEST_ACTOR,
            wedding,
            "name,email,dietary_requirements\nÉlodie,e@example.com,VÉGÉTARIEN\n".encode(),
        )
    assert await _names(database, wedding, "dietary=végétarien") == {"Élodie"}


def test_guests_are_listed_by_name_as_a_person_would_sort_them() -> None:
    # Names are encrypted at rest, so the sort happens in Python: case and accents
    # must not push "álvarez" past "Zoe".
    names = ["Zoe Park", "álvarez", "Alvarez", "bea Li", "Ana Ruiz"]
    guests = [Guest(id=n, name=name) for n, name in enumerate(names, start=1)]
    assert [guest.name for guest in by_name(guests)] == [
        "Alvarez",
        "álvarez",
        "Ana Ruiz",
        "bea Li",
        "Zoe Park",
    ]

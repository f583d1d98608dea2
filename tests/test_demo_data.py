"""The demo data a newcomer meets: varied guests, one opt-out, loaded once."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from store.database import Database
from store.demo import OPTED_OUT_PHONE, load_demo_data
from store.enums import Channel, Role
from store.guestlist.export import load_guests
from store.models import ConsentRecord, Member, Organisation
from store.repositories.organisations import WeddingRepository
from store.repositories.suppressions import SuppressionLedger
from tests.factories import TEST_ACTOR


async def test_demo_data_has_what_every_flow_needs(database: Database) -> None:
    async with database.transaction() as session:
        result = await load_demo_data(session, TEST_ACTOR)
    assert (result.created, result.guests) == (True, 40)

    async with database.transaction() as session:
        wedding = await WeddingRepository(session).resolve(None)
        guests = await load_guests(session, wedding.id)
        organisation = await session.scalar(select(Organisation))
        assert organisation is not None
        roles = set((await session.scalars(select(Member.role))).all())
        suppressed = await SuppressionLedger(session).active_among(
            organisation.id, [(Channel.SMS, g.phone) for g in guests if g.phone]
        )
        sms_consents = await session.scalar(
            select(func.count()).where(ConsentRecord.channel == Channel.SMS)
        )

    assert wedding.rsvp_link
    assert wedding.parking_instructions
    assert wedding.hashtag
    assert organisation.postal_address
    assert roles == set(Role) - {Role.ADMIN}
    assert set(Counter(g.rsvp_status for g in guests)) == {"confirmed", "pending", "declined"}
    assert any(g.dietary_requirements for g in guests)
    assert any(g.plus_one for g in guests)
    assert any(g.email and not g.phone for g in guests)
    assert any(g.phone and not g.email for g in guests)
    assert len({group for g in guests for group in g.groups}) >= 4
    assert suppressed == {(Channel.SMS, OPTED_OUT_PHONE): "stop"}
    assert any(g.phone == OPTED_OUT_PHONE for g in guests)
    with_phone = sum(1 for g in guests if g.phone)
    assert sms_consents == with_phone - 2  # two guests never agreed to texts


async def test_demo_data_loads_once(database: Database) -> None:
    async with database.transaction() as session:
        await load_demo_data(session, TEST_ACTOR)
    async with database.transaction() as session:
        again = await load_demo_data(session, TEST_ACTOR)
        organisations = await session.scalar(select(func.count()).select_from(Organisation))
    assert again.created is False
    assert organisations == 1

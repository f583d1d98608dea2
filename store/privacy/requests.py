"""A data request from start to end, for the CLI and Slack alike: read the address the
way the organisation writes numbers, find the person, then export or erase."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import Actor
from store.database import Database
from store.errors import NotFound
from store.models import Organisation
from store.privacy.erasure import Erasure, erase_person
from store.privacy.person import Person, find_person, read_address
from store.privacy.person_export import export_person


async def _person(session: AsyncSession, organisation_id: int, text: str) -> Person:
    """Raises AddressError for text that is no email address or phone number."""
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("organisation", organisation_id)
    return await find_person(
        session, organisation, read_address(text, organisation.default_country)
    )


async def export_request(
    database: Database, actor: Actor, organisation_id: int, text: str
) -> dict[str, Any]:
    async with database.transaction() as session:
        return await export_person(session, actor, await _person(session, organisation_id, text))


async def erasure_preview(database: Database, organisation_id: int, text: str) -> Person:
    """Who would be erased, for the confirmation question; changes nothing."""
    async with database.reading() as session:
        return await _person(session, organisation_id, text)


async def erase_request(
    database: Database, actor: Actor, organisation_id: int, text: str
) -> tuple[Person, Erasure]:
    """Found again inside the erasing transaction: what it erases is what it found."""
    async with database.transaction() as session:
        person = await _person(session, organisation_id, text)
        return person, await erase_person(session, actor, person)

"""Building test data through the real repositories."""

from __future__ import annotations

from datetime import date

from store.audit import Actor
from store.database import Database
from store.enums import Tier
from store.models import Organisation, Wedding
from store.repositories.organisations import OrganisationRepository, WeddingRepository

TEST_ACTOR = Actor("test")


async def make_wedding(
    database: Database,
    *,
    organisation_slug: str = "acme",
    wedding_slug: str = "ann-and-ben",
    default_country: str = "US",
    tier: Tier = Tier.PROFESSIONAL,
) -> tuple[Organisation, Wedding]:
    async with database.transaction() as session:
        organisations = OrganisationRepository(session)
        organisation = await organisations.by_slug(organisation_slug)
        if organisation is None:
            organisation = await organisations.create(
                TEST_ACTOR,
                slug=organisation_slug,
                name=f"{organisation_slug.title()} Weddings",
                tier=tier,
                postal_address="1 Test Street, Springfield",
                default_country=default_country,
            )
        wedding = await WeddingRepository(session).create(
            TEST_ACTOR,
            organisation.id,
            slug=wedding_slug,
            couple_names="Ann & Ben",
            wedding_date=date(2027, 9, 4),
            timezone="Europe/London",
        )
    return organisation, wedding

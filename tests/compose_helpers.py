"""Facts for composition tests, built without a database."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from dispatch.compose.builtin_templates import BUILTIN_TEMPLATES
from dispatch.compose.composer import CampaignContent, Composer, OrganisationFacts
from dispatch.compose.tokens import GuestFacts, WeddingFacts
from store.enums import Channel, Tier

ORGANISATION = OrganisationFacts(
    id=1,
    name="Evergreen Weddings & Events",
    sender_name="Evergreen Weddings",
    sender_email="hello@evergreen.example.com",
    postal_address="1200 Market Street\nSuite 400\nPhiladelphia, PA 19107",
    tier=Tier.PROFESSIONAL,
)
FULL_WEDDING = WeddingFacts(
    couple_names="Alex & Sam",
    wedding_date=date(2027, 6, 12),
    ceremony_time=time(16, 0),
    venue_name="Willow Creek Barn",
    reception_venue="The Orchard Pavilion",
    rsvp_deadline=date(2027, 5, 1),
    rsvp_link="https://alexandsam.example.com/rsvp",
    parking_instructions="Park in the lower field.",
    hashtag="#AlexAndSam2027",
    timezone="America/New_York",
    locale="en_US",
)
# Only what every wedding has: no times, reception, parking or hashtag.
BARE_WEDDING = WeddingFacts(
    couple_names="Noor & Eli",
    wedding_date=date(2027, 9, 4),
    ceremony_time=None,
    venue_name="Town Hall",
    reception_venue=None,
    rsvp_deadline=None,
    rsvp_link="https://noor-eli.example.com",
    parking_instructions=None,
    hashtag=None,
    timezone="Europe/London",
    locale="en_GB",
)
ZOE = GuestFacts(id=7, name="Zoë Müller", email="zoe@example.com", phone="+12015550106")
LAYLA = GuestFacts(id=8, name="ليلى حداد", email="layla@example.com", phone="+12015550119")
MINIMAL = GuestFacts(id=9, name="Sam", email="sam@example.com")


def content(template_key: str = "invitation", **overrides: Any) -> CampaignContent:
    template = BUILTIN_TEMPLATES[template_key]
    values: dict[str, Any] = {
        "channels": frozenset({Channel.EMAIL, Channel.SMS}),
        "email_subject": template.email_subject,
        "email_text": template.email_text,
        "email_html": template.email_html,
        "sms_text": template.sms_text,
    }
    values.update(overrides)
    return CampaignContent(**values)


def composer(
    template_key: str = "invitation",
    wedding: WeddingFacts = FULL_WEDDING,
    organisation: OrganisationFacts = ORGANISATION,
    custom_fields: frozenset[str] = frozenset(),
    **overrides: Any,
) -> Composer:
    return Composer(content(template_key, **overrides), wedding, organisation, custom_fields)

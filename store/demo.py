"""The demo organisation: one wedding, forty guests, members for every role.

Loaded by ``guestcomms demo-data`` (and ``make run``) so a newcomer can try
every flow offline. The data is fixed, not random, so the README and the
console can describe it. Addresses use example.com and the +1 201-555-01xx
range, which libphonenumber accepts as valid but no one is assigned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import Actor, AuditRecord
from store.enums import Channel, Role, RsvpStatus, SuppressionReason, Tier
from store.guestlist.importer import apply_guest_rows
from store.guestlist.reader import GuestRow, ParsedGuestList
from store.models import ConsentRecord, Guest
from store.repositories.organisations import OrganisationRepository, WeddingRepository
from store.repositories.suppressions import SuppressionLedger

DEMO_ORGANISATION = "demo"
DEMO_WEDDING = "alex-and-sam"
OPTED_OUT_PHONE = "+12015550139"

C, P, D = RsvpStatus.CONFIRMED, RsvpStatus.PENDING, RsvpStatus.DECLINED

# name, email, phone suffix (01xx), rsvp, party size, dietary, plus-one, groups
_GUESTS: tuple[tuple[str, str | None, int | None, RsvpStatus, int, str, bool, str], ...] = (
    ("Maria Alvarez", "maria.alvarez", 100, C, 2, "", True, "family"),
    ("Jorge Alvarez", "jorge.alvarez", 101, C, 1, "", False, "family"),
    ("Lucía Alvarez", "lucia.alvarez", None, P, 1, "vegetarian", False, "family"),
    ("Daniel Kim", "daniel.kim", 103, C, 2, "", True, "family|bridal party"),
    ("Grace Kim", "grace.kim", 104, P, 1, "gluten-free", False, "family"),
    ("Henry Kim", None, 105, D, 1, "", False, "family"),
    ("Zoë Müller", "zoe.mueller", 106, C, 1, "vegan", False, "friends|bridal party"),
    ("Priya Natarajan", "priya.n", 107, C, 2, "vegetarian", True, "friends|bridal party"),
    ("Tom O'Brien", "tom.obrien", 108, P, 1, "", False, "friends"),
    ("Aisha Bello", "aisha.bello", 109, C, 1, "nut allergy", False, "friends"),
    ("Kenji Watanabe", "kenji.w", None, P, 2, "", True, "friends"),
    ("Sofia Rossi", "sofia.rossi", 111, D, 1, "", False, "friends"),
    ("Liam Murphy", None, 112, P, 1, "", False, "friends"),
    ("Chloé Dubois", "chloe.dubois", 113, C, 1, "pescatarian", False, "friends"),
    ("Noah Goldberg", "noah.goldberg", 114, P, 2, "kosher", True, "college"),
    ("Emma Johansson", "emma.j", 115, C, 1, "", False, "college"),
    ("Oliver Smith", "oliver.smith", None, P, 1, "", False, "college"),
    ("Ava Brown", None, 117, C, 1, "vegetarian", False, "college"),
    ("Mateo García", "mateo.garcia", 118, D, 1, "", False, "college"),
    ("ليلى حداد", "layla.haddad", 119, C, 2, "halal", True, "college"),
    ("Ethan Clarke", "ethan.clarke", 120, P, 1, "", False, "work"),
    ("Hannah Lee", "hannah.lee", 121, C, 1, "dairy-free", False, "work"),
    ("Samuel Okafor", "samuel.okafor", None, P, 1, "", False, "work"),
    ("Isabella Costa", "isabella.costa", 122, C, 2, "", True, "work"),
    ("James Wilson", None, 123, P, 1, "", False, "work"),
    ("Mia Anderson", "mia.anderson", 124, D, 1, "", False, "work"),
    ("Benjamin Taylor", "ben.taylor", 125, C, 1, "gluten-free", False, "neighbours"),
    ("Charlotte Moore", "charlotte.moore", None, P, 1, "", False, "neighbours"),
    ("Lucas Martin", "lucas.martin", 127, C, 2, "vegan", True, "neighbours"),
    ("Amelia Thompson", None, 128, P, 1, "", False, "neighbours"),
    ("Arjun Mehta", "arjun.mehta", 129, C, 1, "vegetarian", False, "family"),
    ("Fatima Zahra", "fatima.zahra", 130, P, 1, "halal", False, "family"),
    ("William Harris", "will.harris", None, C, 1, "", False, "family"),
    ("Elena Petrova", "elena.petrova", 132, P, 2, "", True, "friends"),
    ("Jack Robinson", None, 133, C, 1, "shellfish allergy", False, "friends"),
    ("Olivia Walker", "olivia.walker", 134, P, 1, "", False, "friends"),
    ("Mason Young", "mason.young", 135, D, 1, "", False, "college"),
    ("Harper King", "harper.king", 136, C, 1, "", False, "college"),
    ("Leo Wright", "leo.wright", 137, P, 1, "vegetarian", False, "work"),
    ("Nora Scott", None, 139, P, 1, "", False, "neighbours"),
)
# Guests who gave their number for texts on the RSVP card; two did not.
_NO_SMS_CONSENT = frozenset({"Tom O'Brien", "Leo Wright"})
_CONSENT_TEXT = "I'd like text updates about the wedding. Reply STOP to opt out."


@dataclass(frozen=True, slots=True)
class DemoResult:
    created: bool
    guests: int


async def load_demo_data(session: AsyncSession, actor: Actor) -> DemoResult:
    """Create the demo organisation once; a second call changes nothing."""
    organisations = OrganisationRepository(session)
    if await organisations.by_slug(DEMO_ORGANISATION) is not None:
        return DemoResult(created=False, guests=0)
    organisation = await organisations.create(
        actor,
        slug=DEMO_ORGANISATION,
        name="Evergreen Weddings & Events",
        tier=Tier.PROFESSIONAL,
        postal_address="1200 Market Street, Suite 400, Philadelphia, PA 19107, USA",
        sender_name="Evergreen Weddings",
        sender_email="hello@evergreen-weddings.example.com",
        contact_email="hello@evergreen-weddings.example.com",
        contact_phone="+12015550199",
        # Guests' texts to this number reach this organisation (POST /twilio/sms).
        sms_number="+12015550100",
        default_country="US",
        timezone="America/New_York",
        locale="en_US",
    )
    for slack_user_id, role, display_name in (
        ("U_OWNER", Role.OWNER, "Olivia Owner"),
        ("U_PLANNER", Role.PLANNER, "Pat Planner"),
        ("U_APPROVER", Role.APPROVER, "Avery Approver"),
        ("U_VIEWER", Role.VIEWER, "Vic Viewer"),
    ):
        await organisations.add_member(
            actor,
            organisation.id,
            slack_user_id=slack_user_id,
            role=role,
            display_name=display_name,
            email=f"{slack_user_id.lower()}@evergreen-weddings.example.com",
        )
    wedding = await WeddingRepository(session).create(
        actor,
        organisation.id,
        slug=DEMO_WEDDING,
        couple_names="Alex & Sam",
        wedding_date=date(2027, 6, 12),
        ceremony_time=time(16, 0),
        venue_name="Willow Creek Barn",
        venue_address="48 Orchard Lane, New Hope, PA 18938",
        reception_venue="The Orchard Pavilion",
        rsvp_deadline=date(2027, 5, 1),
        rsvp_link="https://alexandsam.example.com/rsvp",
        parking_instructions="Free parking in the lower field; follow the lantern signs.",
        hashtag="#AlexAndSam2027",
        timezone="America/New_York",
        locale="en_US",
    )
    rows = [
        GuestRow(
            line=number,
            name=name,
            email=f"{email}@example.com" if email else None,
            phone=f"+1201555{suffix:04d}" if suffix is not None else None,
            rsvp_status=rsvp,
            party_size=party_size,
            dietary_requirements=dietary or None,
            plus_one=plus_one,
            groups=sorted(groups.split("|")),
        )
        for number, (name, email, suffix, rsvp, party_size, dietary, plus_one, groups) in enumerate(
            _GUESTS, start=1
        )
    ]
    report = await apply_guest_rows(session, actor, wedding, ParsedGuestList(rows, [], []))
    await _record_sms_consent(session, organisation.id, wedding.id, actor)
    await SuppressionLedger(session).suppress(
        actor,
        organisation_id=organisation.id,
        channel=Channel.SMS,
        address=OPTED_OUT_PHONE,
        reason=SuppressionReason.STOP,
        source="demo",
        detail="Replied STOP to an earlier save-the-date",
    )
    return DemoResult(created=True, guests=report.added)


async def _record_sms_consent(
    session: AsyncSession, organisation_id: int, wedding_id: int, actor: Actor
) -> None:
    guests = await session.execute(
        select(Guest.id, Guest.name).where(Guest.wedding_id == wedding_id, Guest.phone.is_not(None))
    )
    consents = [
        ConsentRecord(
            organisation_id=organisation_id,
            guest_id=guest_id,
            channel=Channel.SMS,
            granted=True,
            source="rsvp_card",
            text_shown=_CONSENT_TEXT,
            recorded_by=str(actor),
        )
        for guest_id, name in guests
        if name not in _NO_SMS_CONSENT
    ]
    session.add_all(consents)
    await session.flush()
    await audit.record(
        session,
        actor,
        (
            AuditRecord(
                organisation_id,
                "consent.recorded",
                "guest",
                consent.guest_id,
                after={"channel": "sms", "granted": True, "source": consent.source},
            )
            for consent in consents
        ),
    )

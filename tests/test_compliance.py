"""The compliance check on the demo wedding, through the preview a planner approves from."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from dispatch.compose.findings import Severity
from dispatch.compose.preview import CampaignPreview, preview_campaign
from dispatch.settings import DispatchSettings
from store.database import Database
from store.demo import load_demo_data
from store.enums import Channel, Tier
from store.models import Campaign, Guest, Organisation
from store.repositories.campaigns import CampaignRepository
from store.repositories.organisations import WeddingRepository
from tests.factories import TEST_ACTOR

# 15:00 UTC is 11:00 in New Jersey (the demo numbers' area code): daytime.
DAYTIME = datetime(2027, 4, 1, 15, 0, tzinfo=UTC)
NIGHT = datetime(2027, 4, 2, 3, 0, tzinfo=UTC)  # 23:00 the evening before
# Maria Alvarez of the demo wedding, found by her email (names are encrypted).
MARIA = "maria.alvarez@example.com"
SETTINGS = DispatchSettings(
    sms_price_per_segment={"US": Decimal("0.0083")}, public_base_url="https://comms.example.com"
)


async def _preview(
    database: Database, *, now: datetime = DAYTIME, **campaign: Any
) -> CampaignPreview:
    async with database.transaction() as session:
        await load_demo_data(session, TEST_ACTOR)
        wedding = await WeddingRepository(session).resolve(None)
        draft = Campaign(
            organisation_id=wedding.organisation_id,
            wedding_id=wedding.id,
            name="Test",
            channels=campaign.pop("channels", ["email", "sms"]),
            audience=campaign.pop("audience", ""),
            template_key=campaign.pop("template_key", "invitation"),
            day_of_logistics=campaign.pop("day_of_logistics", False),
            **campaign,
        )
        return await preview_campaign(session, draft, SETTINGS, now)


def _codes(preview: CampaignPreview, severity: Severity | None = None) -> list[str]:
    return [f.code for f in preview.report.findings if severity in (None, f.severity)]


def _message(preview: CampaignPreview, code: str) -> str:
    return next(f.message for f in preview.report.findings if f.code == code)


async def test_the_demo_invitation_is_approvable(database: Database) -> None:
    preview = await _preview(database)
    report = preview.report
    assert report.blocking == ()
    assert _codes(preview) == [
        "sms_no_consent",
        "unreachable_recipients",  # 7 without an email address
        "suppressed_recipients",  # 1 STOP
        "unreachable_recipients",  # 6 without a phone
        "sms_segments",
    ]
    assert report.score == 90
    assert _message(preview, "sms_no_consent") == (
        "2 guests have no SMS consent on record and will not be texted."
    )
    assert _message(preview, "suppressed_recipients") == (
        "1 guest will not get the SMS: on the opt-out list (1 stop)."
    )
    assert (preview.audience, preview.audience_size, preview.plan.recipient_count) == (
        "all guests",
        40,
        39,
    )
    assert report.sms_cost is not None
    assert report.sms_cost.messages == len(preview.plan.on(Channel.SMS)) == 31


async def test_the_preview_shows_three_guests_messages(database: Database) -> None:
    preview = await _preview(database)
    assert len(preview.samples) == 3
    first = preview.samples[0]
    assert first.email is not None
    assert first.email.subject == "You're invited: Alex & Sam, Saturday, June 12, 2027"
    assert first.email.text.startswith(f"Dear {first.guest_name},")
    assert first.sms is not None
    assert first.sms.startswith("Evergreen Weddings: Alex & Sam invite you")
    assert first.sms.endswith("Reply STOP to opt out.")
    assert first.sms_segments is not None
    assert (first.sms_segments.encoding, first.sms_segments.segments) == ("GSM-7", 2)


async def test_texts_at_night_wait_unless_they_are_day_of_logistics(database: Database) -> None:
    night = await _preview(database, now=NIGHT)
    assert "quiet_hours" in _codes(night, Severity.WARNING)
    assert _message(night, "quiet_hours") == (
        "31 guests would get the text between 21:00 and 08:00 their time; "
        "their texts will wait until 08:00."
    )
    logistics = await _preview(database, now=NIGHT, day_of_logistics=True)
    assert "quiet_hours" in _codes(logistics, Severity.INFO)
    scheduled = await _preview(database, now=NIGHT, scheduled_at=DAYTIME)
    assert "quiet_hours" not in _codes(scheduled)


async def test_a_guests_own_time_zone_decides_quiet_hours(database: Database) -> None:
    async with database.transaction() as session:
        await load_demo_data(session, TEST_ACTOR)
        await session.execute(
            update(Guest).where(Guest.email_index == MARIA).values(timezone="Asia/Tokyo")
        )
    # 15:00 UTC is midnight in Tokyo.
    preview = await _preview(database, audience="group=family")
    assert _message(preview, "quiet_hours").startswith("1 guest would get the text")


async def test_a_misleading_subject_blocks(database: Database) -> None:
    preview = await _preview(database, email_subject="Re: our wedding")
    assert _codes(preview, Severity.BLOCKING) == ["subject_misleading"]
    assert preview.report.score == 60


async def test_an_unknown_token_is_named_with_how_many_it_affects(database: Database) -> None:
    preview = await _preview(database, sms_text="Hi {{guset_name}}, see you at {{venue_name}}")
    assert _codes(preview, Severity.BLOCKING) == ["token_unknown"]
    finding = preview.report.blocking[0]
    assert finding.message == (
        "{{guset_name}} in the SMS text is not a token; all 39 guests would see it as written."
    )
    assert finding.fix.startswith("Did you mean {{guest_name}}? Tokens: {{guest_name}}, ")
    assert preview.samples[0].sms is not None
    assert "Hi {{guset_name}}," in preview.samples[0].sms


async def test_a_token_empty_for_some_guests_is_counted(database: Database) -> None:
    preview = await _preview(
        database, email_text="Dear {{guest_name}}, we noted: {{dietary_requirements}}."
    )
    assert _message(preview, "token_empty") == (
        "{{dietary_requirements}} is empty for 19 of 39 guests, who would see a blank."
    )
    guarded = await _preview(
        database,
        email_text="Dear {{guest_name}}{% if dietary_requirements %}: {{dietary_requirements}}"
        "{% endif %}.",
    )
    assert "token_empty" not in _codes(guarded)


async def test_a_wedding_detail_that_is_missing_blocks(database: Database) -> None:
    preview = await _preview(database, sms_text="Parking: {{parking_instructions}} {{rsvp_link}}")
    assert "token_empty" not in _codes(preview)
    async with database.transaction() as session:
        wedding = await WeddingRepository(session).resolve(None)
        wedding.rsvp_link = None
    preview = await _preview(database)
    assert _codes(preview, Severity.BLOCKING) == ["token_empty"]
    assert _message(preview, "token_empty") == (
        "{{rsvp_link}} is empty for this wedding, so all 39 guests would see a blank."
    )


async def test_no_postal_address_blocks_email(database: Database) -> None:
    async with database.transaction() as session:
        await load_demo_data(session, TEST_ACTOR)
        await session.execute(update(Organisation).values(postal_address=""))
    preview = await _preview(database)
    assert _codes(preview, Severity.BLOCKING) == ["postal_address_missing"]
    sms_only = await _preview(database, channels=["sms"])
    assert "postal_address_missing" not in _codes(sms_only)


async def test_more_recipients_than_the_tier_allows_blocks(database: Database) -> None:
    async with database.transaction() as session:
        await load_demo_data(session, TEST_ACTOR)
        await session.execute(update(Organisation).values(tier=Tier.FREE))
    assert "tier_recipient_limit" not in _codes(await _preview(database))
    async with database.transaction() as session:
        wedding = await WeddingRepository(session).resolve(None)
        session.add_all(
            Guest(wedding_id=wedding.id, name=f"Extra {n}", email=f"extra{n}@example.com")
            for n in range(70)
        )
    preview = await _preview(database)
    assert _message(preview, "tier_recipient_limit") == (
        "109 guests would receive this campaign; the Free plan allows 100 per campaign."
    )


async def test_an_injected_template_blocks_and_shows_no_samples(database: Database) -> None:
    preview = await _preview(database, email_html="{{ ''.__class__.__mro__ }}")
    assert _codes(preview, Severity.BLOCKING) == ["template_refused"]
    assert preview.samples == ()


async def test_spam_and_link_problems_are_found_in_the_rendered_messages(
    database: Database,
) -> None:
    preview = await _preview(
        database,
        email_subject="ACT NOW!!! YOU ARE INVITED",
        sms_text="RSVP at https://bit.ly/xyz",
        email_html='<p>Hi</p><img src="https://x.example.com/a.png"><a href="https://x.example.com">here</a>',
    )
    assert set(_codes(preview)) >= {
        "spam_all_caps",
        "spam_exclamation",
        "link_shortener",
        "html_image_alt",
        "html_link_text",
    }
    assert preview.report.score == 0


async def test_ucs2_characters_are_named_with_the_saving(database: Database) -> None:
    preview = await _preview(
        database,
        channels=["sms"],
        audience="rsvp=confirmed",
        sms_text="Shuttle leaves 3pm 🚌 from the hotel. See you there, {{first_name}}!",
    )
    assert _message(preview, "sms_ucs2").endswith(
        "instead of 160. “🚌” forces UCS-2: 2 segments instead of 1 for 15 guests."
    )


async def test_an_unreadable_audience_blocks(database: Database) -> None:
    preview = await _preview(database, audience="rsvpp=pending")
    assert _codes(preview, Severity.BLOCKING) == ["audience_invalid", "no_recipients"]
    assert _message(preview, "audience_invalid") == (
        "The audience cannot be read: There is no field “rsvpp”. Did you mean “rsvp”? "
        "Fields: rsvp, dietary, plus_one, group, channel."
    )


async def test_a_saved_campaign_previews_the_same(database: Database) -> None:
    async with database.transaction() as session:
        await load_demo_data(session, TEST_ACTOR)
        wedding = await WeddingRepository(session).resolve(None)
        campaign = await CampaignRepository(session).create(
            TEST_ACTOR,
            organisation_id=wedding.organisation_id,
            wedding_id=wedding.id,
            name="Reminder",
            channels=[Channel.EMAIL],
            audience="rsvp=pending",
            template_key="rsvp_reminder",
        )
    async with database.reading() as session:
        saved = await CampaignRepository(session).get(campaign.id)
        preview = await preview_campaign(session, saved, SETTINGS, DAYTIME)
    assert preview.campaign_id == campaign.id
    assert preview.report.blocking == ()
    assert preview.audience == "rsvp is pending"


@pytest.mark.parametrize(
    ("preferred", "expected"), [("email", {Channel.EMAIL}), ("sms", {Channel.SMS})]
)
async def test_a_guests_preferred_channel_is_honoured(
    database: Database, preferred: str, expected: set[Channel]
) -> None:
    async with database.transaction() as session:
        await load_demo_data(session, TEST_ACTOR)
        await session.execute(
            update(Guest).where(Guest.email_index == MARIA).values(preferred_channel=preferred)
        )
    preview = await _preview(database)
    maria = {d.channel for d in preview.plan.deliveries if d.guest.name == "Maria Alvarez"}
    assert maria == expected


async def test_unsubscribe_links_must_be_https(database: Database) -> None:
    async def with_base(url: str) -> CampaignPreview:
        async with database.transaction() as session:
            await load_demo_data(session, TEST_ACTOR)
            wedding = await WeddingRepository(session).resolve(None)
            draft = Campaign(
                organisation_id=wedding.organisation_id,
                wedding_id=wedding.id,
                name="T",
                channels=["email"],
                audience="",
                template_key="invitation",
                day_of_logistics=False,
            )
            settings = DispatchSettings(public_base_url=url)
            return await preview_campaign(session, draft, settings, DAYTIME)

    public_http = await with_base("http://comms.example.com")
    assert _codes(public_http, Severity.BLOCKING) == ["unsubscribe_link_insecure"]
    laptop = await with_base("http://localhost:8080")
    assert "unsubscribe_link_local" in _codes(laptop, Severity.WARNING)
    assert laptop.report.blocking == ()


async def test_a_text_longer_than_twilio_accepts_blocks(database: Database) -> None:
    preview = await _preview(database, channels=["sms"], sms_text="Details: " + "x" * 1700)
    assert _codes(preview, Severity.BLOCKING) == ["sms_too_long"]
    assert "sms_long" not in _codes(preview)


async def test_the_preview_shows_the_whole_email(database: Database) -> None:
    preview = await _preview(database)
    first = preview.samples[0]
    assert first.email_from == "Evergreen Weddings <hello@evergreen-weddings.example.com>"
    assert first.email_to == f"{first.guest_name} <maria.alvarez@example.com>"
    assert first.email_footer is not None
    assert "1200 Market Street, Suite 400, Philadelphia" in first.email_footer
    assert "Unsubscribe from these messages: https://comms.example.com/u/…" in (first.email_footer)


async def test_texts_made_dearer_only_by_guests_names_are_counted_not_flagged(
    database: Database,
) -> None:
    """A guest's own name in another script is theirs to keep: the planner is told what
    it costs, and neither warned nor marked down for it (two demo guests' first names
    are outside GSM-7, the most frequent character first)."""
    preview = await _preview(
        database,
        channels=["sms"],
        sms_text="Save the date, {{first_name}}! More soon.",
        day_of_logistics=True,
    )
    cost = preview.report.sms_cost
    assert cost is not None
    assert (cost.ucs2_texts, cost.ucs2_texts_by_planner) == (2, 0)
    assert "sms_ucs2" not in _codes(preview, Severity.WARNING)
    assert _message(preview, "sms_ucs2") == (
        f"2 of {cost.messages} texts use characters outside GSM-7 from the guests' own names "
        f"or details (such as “{cost.guest_ucs2_characters[0]}”), so each of their segments "
        "holds 70 characters instead of 160; the cost includes it."
    )
    assert preview.report.score == 90  # the missing SMS consents' warning alone

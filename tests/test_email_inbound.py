"""POST /email/inbound: guests' email replies, as SendGrid and Postmark post them."""

from __future__ import annotations

import base64
import io
import json
import uuid
from email.utils import parseaddr
from typing import Any

import pytest
from aiohttp import ClientResponse, FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from handlers.app import create_app
from handlers.reply_text import reply_text
from handlers.settings import WebSettings
from store.database import Database
from store.enums import Channel, InboundClass, RsvpStatus, SuppressionReason
from store.models import AuditEntry, Event, Guest, InboundMessage, Organisation, Suppression
from tests.dispatch_harness import make_guests
from tests.factories import make_wedding
from tests.web_harness import (
    INBOUND_EMAIL_PASSWORD,
    INBOUND_EMAIL_USERNAME,
    UNSUBSCRIBE_SECRET,
    ClientFactory,
    app_settings,
)

ORGANISATION = "hello@evergreen.example.com"  # make_guests' sender address
GUEST = "guest1@example.com"
PLATFORM = "comms@guestcomms.example.com"
QUOTED_INVITATION = (
    "\n\nOn Sat, 12 Jun 2027 at 10:00, Evergreen Weddings <hello@evergreen.example.com> wrote:\n"
    "> Will you join Alex & Sam at Willow Creek Barn?\n"
    "> Reply STOP to unsubscribe.\n"
)


def database_url(database: Database) -> str:
    return database.url.render_as_string(hide_password=False)


def basic(username: str = INBOUND_EMAIL_USERNAME, password: str = INBOUND_EMAIL_PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
async def organisation_id(database: Database) -> int:
    organisation_id, _, _, _ = await make_guests(database, 3)
    return organisation_id


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, database: Database, organisation_id: int
) -> TestClient[Any, Any]:
    settings = app_settings(database_url(database), email_from=PLATFORM)
    return await aiohttp_client(create_app(settings))


def sendgrid_form(
    sender: str,
    text: str | None,
    *,
    to: str = f"Evergreen Weddings <{ORGANISATION}>",
    subject: str = "Re: You're invited",
    html: str | None = None,
    headers: str | None = None,
    attachment: bytes | None = None,
) -> FormData:
    """The fields SendGrid Inbound Parse posts (default, not raw, mode)."""
    message_id = f"<{uuid.uuid4().hex}@mail.example.com>"
    form = FormData(default_to_multipart=True)
    form.add_field("headers", headers or f"Message-ID: {message_id}\nFrom: {sender}\nTo: {to}\n")
    form.add_field("from", sender)
    form.add_field("to", to)
    form.add_field("subject", subject)
    if text is not None:
        form.add_field("text", text)
    if html is not None:
        form.add_field("html", html)
    envelope = {"to": [parseaddr(to)[1]], "from": "bounce@example.com"}
    form.add_field("envelope", json.dumps(envelope))
    form.add_field("charsets", json.dumps({"text": "UTF-8", "subject": "UTF-8", "from": "UTF-8"}))
    form.add_field("spam_score", "0.1")
    if attachment is not None:
        form.add_field("attachments", "1")
        photo = io.BytesIO(attachment)
        form.add_field("attachment1", photo, filename="photo.jpg", content_type="image/jpeg")
    return form


def postmark(sender: str, text: str, **fields: Any) -> dict[str, Any]:
    """Postmark's inbound JSON, as documented (the fields read, and a few others)."""
    return {
        "From": sender,
        "FromName": "A Guest",
        "FromFull": {"Email": sender, "Name": "A Guest", "MailboxHash": ""},
        "To": f"Evergreen Weddings <{ORGANISATION}>",
        "ToFull": [{"Email": ORGANISATION, "Name": "Evergreen Weddings", "MailboxHash": ""}],
        "OriginalRecipient": ORGANISATION,
        "Subject": "Re: You're invited",
        "MessageID": str(uuid.uuid4()),
        "Date": "Sat, 12 Jun 2027 10:05:00 +0000",
        "TextBody": text,
        "HtmlBody": "",
        "StrippedTextReply": "",
        "Headers": [{"Name": "Message-ID", "Value": f"<{uuid.uuid4().hex}@mail.example.com>"}],
        "Attachments": [],
        **fields,
    }


async def post_form(
    client: TestClient[Any, Any], form: FormData, auth: str | None = None
) -> ClientResponse:
    return await client.post(
        "/email/inbound", data=form, headers={"Authorization": auth or basic()}
    )


async def post_json(
    client: TestClient[Any, Any], payload: Any, auth: str | None = None
) -> ClientResponse:
    return await client.post(
        "/email/inbound", json=payload, headers={"Authorization": auth or basic()}
    )


async def row_counts(database: Database) -> dict[str, int]:
    async with database.reading() as session:
        return {
            model.__name__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (InboundMessage, Suppression, AuditEntry, Event)
        }


async def active(database: Database, address: str) -> list[Suppression]:
    async with database.reading() as session:
        rows = await session.scalars(
            select(Suppression).where(
                Suppression.address == address, Suppression.lifted_at.is_(None)
            )
        )
        return list(rows)


async def messages(database: Database) -> list[InboundMessage]:
    async with database.reading() as session:
        return list(await session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


async def guest(database: Database, email: str) -> Guest:
    async with database.reading() as session:
        found = await session.scalar(select(Guest).where(Guest.email_index == email))
        assert found is not None
        return found


async def test_stop_suppresses_the_email_address(
    client: TestClient[Any, Any], database: Database, organisation_id: int
) -> None:
    response = await post_form(client, sendgrid_form(f"Guest One <{GUEST.upper()}>", "STOP"))
    assert response.status == 200
    assert (await response.json()) == {"status": "recorded", "classification": "opt_out"}
    [entry] = await active(database, GUEST)
    assert (entry.organisation_id, entry.channel, entry.reason, entry.source) == (
        organisation_id,
        Channel.EMAIL,
        SuppressionReason.STOP,
        "email_reply",
    )
    [message] = await messages(database)
    assert (message.provider, message.from_address, message.to_address) == (
        "sendgrid",
        GUEST,
        ORGANISATION,
    )
    assert message.classification == InboundClass.OPT_OUT
    metrics = await (await client.get("/metrics")).text()
    assert 'guestcomms_opt_outs_total{channel="email",reason="stop"} 1.0' in metrics


async def test_an_rsvp_above_the_quoted_invitation_is_an_rsvp_not_an_opt_out(
    client: TestClient[Any, Any], database: Database
) -> None:
    response = await post_form(client, sendgrid_form(GUEST, "Yes 2" + QUOTED_INVITATION))
    assert (await response.json())["classification"] == "rsvp"
    found = await guest(database, GUEST)
    assert (found.rsvp_status, found.party_size) == (RsvpStatus.CONFIRMED, 2)
    assert await active(database, GUEST) == []
    [message] = await messages(database)
    assert message.body == "Yes 2"  # the guest's words, not our quoted footer


async def test_chatter_is_kept_for_the_planners(
    client: TestClient[Any, Any], database: Database
) -> None:
    text = "Can we bring our dog? She is very well behaved.\n\n--\nJane\n" + QUOTED_INVITATION
    response = await post_form(client, sendgrid_form(GUEST, text))
    assert (await response.json())["classification"] == "other"
    [message] = await messages(database)
    assert message.classification == InboundClass.OTHER
    assert message.body == "Can we bring our dog? She is very well behaved."
    async with database.reading() as session:
        event = await session.scalar(select(Event).where(Event.kind == "guest.replied"))
    assert event is not None
    assert event.payload["inbound_message_id"] == message.id
    assert event.payload["classification"] == "other"
    assert event.payload["channel"] == "email"
    assert await active(database, GUEST) == []


async def test_postmark_json_is_read_the_same_way(
    client: TestClient[Any, Any], database: Database
) -> None:
    payload = postmark(GUEST, "Sorry, we can't make it.\n\nSent from my iPhone" + QUOTED_INVITATION)
    response = await post_json(client, payload)
    assert response.status == 200
    assert (await guest(database, GUEST)).rsvp_status == RsvpStatus.DECLINED
    [message] = await messages(database)
    assert (message.provider, message.provider_message_id) == ("postmark", payload["MessageID"])


async def test_an_html_only_reply_is_read_without_its_quote(
    client: TestClient[Any, Any], database: Database
) -> None:
    html = (
        '<div dir="ltr">Yes, 3 of us!</div><br><div class="gmail_quote">'
        "<blockquote>Reply STOP to unsubscribe</blockquote></div>"
    )
    await post_form(client, sendgrid_form(GUEST, None, html=html))
    found = await guest(database, GUEST)
    assert (found.rsvp_status, found.party_size) == (RsvpStatus.CONFIRMED, 3)


async def test_a_repeated_post_has_one_effect(
    client: TestClient[Any, Any], database: Database
) -> None:
    headers = "Message-ID: <same@mail.example.com>\n"
    first = await post_form(client, sendgrid_form(GUEST, "unsubscribe", headers=headers))
    before = await row_counts(database)
    again = await post_form(client, sendgrid_form(GUEST, "unsubscribe", headers=headers))
    assert (await first.json())["status"] == "recorded"
    assert (await again.json())["status"] == "duplicate"
    assert await row_counts(database) == before
    assert len(await active(database, GUEST)) == 1


async def test_a_reply_without_message_id_is_deduplicated_by_its_content(
    client: TestClient[Any, Any], database: Database
) -> None:
    for _ in range(2):
        await post_form(client, sendgrid_form(GUEST, "yes", headers="Subject: Re: hi\n"))
    assert len(await messages(database)) == 1


def _no_auth() -> str:
    return ""


def _wrong_password() -> str:
    return basic(password="guess")


def _wrong_username() -> str:
    return basic(username="admin")


def _bearer() -> str:
    return "Bearer " + INBOUND_EMAIL_PASSWORD


def _not_base64() -> str:
    return "Basic ***"


@pytest.mark.parametrize("auth", [_no_auth, _wrong_password, _wrong_username, _bearer, _not_base64])
async def test_wrong_or_missing_credentials_are_refused_and_write_nothing(
    client: TestClient[Any, Any], database: Database, auth: Any
) -> None:
    before = await row_counts(database)
    headers = {"Authorization": auth()} if auth() else {}
    form = await client.post("/email/inbound", data=sendgrid_form(GUEST, "STOP"), headers=headers)
    as_json = await client.post("/email/inbound", json=postmark(GUEST, "STOP"), headers=headers)
    for response in (form, as_json):
        assert response.status == 403
        assert (await response.json())["error"] == "forbidden"
    assert await row_counts(database) == before


@pytest.mark.parametrize(
    ("web", "named"),
    [
        (WebSettings(), "INBOUND_EMAIL_USERNAME and INBOUND_EMAIL_PASSWORD"),
        (WebSettings(inbound_email_username="inbound"), "INBOUND_EMAIL_PASSWORD"),
    ],
)
async def test_without_credentials_configured_the_endpoint_says_what_is_missing(
    aiohttp_client: ClientFactory, database: Database, web: WebSettings, named: str
) -> None:
    settings = app_settings(database_url(database))
    client = await aiohttp_client(
        create_app(type(settings)(settings.store, settings.dispatch, web))
    )
    response = await post_form(client, sendgrid_form(GUEST, "STOP"))
    assert response.status == 503
    answer = await response.json()
    assert answer["error"] == "not_configured"
    assert named in answer["message"]


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        [],
        {"From": GUEST, "TextBody": "STOP"},  # no MessageID
        {"MessageID": "1", "From": "not an address", "TextBody": "STOP"},
        {"MessageID": "1", "From": GUEST, "TextBody": 42},
    ],
)
async def test_bad_json_is_a_clear_400_and_writes_nothing(
    client: TestClient[Any, Any], database: Database, payload: Any
) -> None:
    before = await row_counts(database)
    body = payload if isinstance(payload, str) else json.dumps(payload)
    response = await client.post(
        "/email/inbound",
        data=body,
        headers={"Authorization": basic(), "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"] == "bad_request"
    assert await row_counts(database) == before


async def test_other_content_types_are_refused(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/email/inbound",
        data="STOP",
        headers={"Authorization": basic(), "Content-Type": "text/plain"},
    )
    assert response.status == 415


async def test_a_large_attachment_does_not_stop_the_reply_being_read(
    client: TestClient[Any, Any], database: Database
) -> None:
    # More than the app's 1 MiB request limit: attachments are streamed past, not kept.
    photo = b"\xff\xd8" + bytes(1_500_000)
    response = await post_form(client, sendgrid_form(GUEST, "yes 2", attachment=photo))
    assert response.status == 200
    assert (await guest(database, GUEST)).party_size == 2


async def test_an_auto_reply_is_stored_and_changes_nothing(
    client: TestClient[Any, Any], database: Database
) -> None:
    headers = "Message-ID: <ooo@mail.example.com>\nAuto-Submitted: auto-replied\n"
    text = "I am out of the office until Monday. Please do not email me before then."
    response = await post_form(client, sendgrid_form(GUEST, text, headers=headers))
    assert response.status == 200
    [message] = await messages(database)
    assert message.classification == InboundClass.OTHER
    assert await active(database, GUEST) == []


async def test_the_list_unsubscribe_mailto_suppresses_whatever_the_body_says(
    client: TestClient[Any, Any], database: Database, organisation_id: int
) -> None:
    invited = await guest(database, GUEST)
    token = UnsubscribeTokens([UNSUBSCRIBE_SECRET], 400).issue(
        organisation_id=organisation_id, guest_id=invited.id, channel=Channel.EMAIL, campaign_id=1
    )
    # Sent by the mail client's unsubscribe button, from an address that forwards.
    form = sendgrid_form(
        "jane.forwarded@gmail.example",
        "This message was automatically generated by Gmail.",
        subject=f"unsubscribe {token}",
    )
    response = await post_form(client, form)
    assert (await response.json())["classification"] == "opt_out"
    [invited_entry] = await active(database, GUEST)
    assert (invited_entry.reason, invited_entry.source) == (
        SuppressionReason.UNSUBSCRIBE,
        "email_unsubscribe_mailto",
    )
    assert len(await active(database, "jane.forwarded@gmail.example")) == 1
    [message] = await messages(database)
    assert token not in message.body


async def test_an_empty_body_under_a_fresh_subject_reads_the_subject(
    client: TestClient[Any, Any], database: Database
) -> None:
    await post_form(client, sendgrid_form(GUEST, "", subject="Unsubscribe"))
    assert len(await active(database, GUEST)) == 1


async def test_an_empty_reply_reads_as_nothing(
    client: TestClient[Any, Any], database: Database
) -> None:
    # Only the quoted invitation (which says STOP): the guest said nothing.
    response = await post_form(client, sendgrid_form(GUEST, QUOTED_INVITATION.strip()))
    assert (await response.json())["classification"] == "other"
    assert await active(database, GUEST) == []


async def test_replies_are_routed_by_the_address_they_were_sent_to(
    client: TestClient[Any, Any], database: Database, organisation_id: int
) -> None:
    second, wedding = await make_wedding(database, organisation_slug="bloom")
    async with database.transaction() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id == second.id)
            .values(sender_email="Hi@Bloom.example.com")
        )
        session.add(Guest(wedding_id=wedding.id, name="Bee", email="bee@example.com"))
        session.add(Guest(wedding_id=wedding.id, name="Guest One", email=GUEST))

    await post_form(client, sendgrid_form("bee@example.com", "yes", to="hi@bloom.example.com"))
    # The platform's shared address: the guest's organisation (the only one that
    # has them, or the one that last emailed them).
    await post_form(client, sendgrid_form("bee@example.com", "no", to=PLATFORM))
    # Nobody's address, two organisations: kept for operators, no organisation.
    await post_form(client, sendgrid_form("stranger@example.net", "STOP", to="x@elsewhere.test"))

    routed = [(m.organisation_id, m.from_address) for m in await messages(database)]
    assert routed == [
        (second.id, "bee@example.com"),
        (second.id, "bee@example.com"),
        (None, "stranger@example.net"),
    ]
    assert (await guest(database, "bee@example.com")).rsvp_status == RsvpStatus.DECLINED
    assert await active(database, "stranger@example.net") == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Yes 2" + QUOTED_INVITATION, "Yes 2"),
        ("stop\n\n-- \nJane Doe\nSent from my iPhone\n", "stop"),
        ("Yes\n> Will you come?\nWe'll be 2", "Yes\nWe'll be 2"),
        (
            "Count us in!\n\nFrom: Evergreen Weddings <hello@evergreen.example.com>\n"
            "Sent: Saturday, June 12, 2027 10:00 AM\nTo: guest1@example.com\n"
            "Subject: You're invited\n\nReply STOP to unsubscribe",
            "Count us in!",
        ),
        (
            "Ja, wir kommen\n\nAm Sa., 12. Juni 2027 um 10:00 schrieb Evergreen <a@b.example>:"
            "\n> STOP",
            "Ja, wir kommen",
        ),
        ("From: Evergreen <a@b.example>\nSent: Saturday\nTo: you\n\nReply STOP", ""),
    ],
)
def test_reply_text_keeps_only_the_guests_words(text: str, words: str) -> None:
    assert reply_text(text) == words

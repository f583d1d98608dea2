"""SMTP gets the same bytes written straight from a guest's email parts as the ``email``
generator gives for the ``Message`` built from them (dispatch/compose/email_wire.py)."""

from __future__ import annotations

import random
import re
import string
from datetime import UTC, datetime, timedelta, timezone
from email.policy import compat32

import pytest
from aiosmtplib.email import flatten_message

from dispatch.compose.composer import Composer
from dispatch.compose.email_message import EmailContent, EmailParts, Envelope, Footer
from dispatch.compose.email_wire import fold, wire_bytes
from dispatch.compose.tokens import GuestFacts
from dispatch.compose.tracking_links import Tracking
from dispatch.compose.tracking_tokens import TrackingTokens
from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from dispatch.providers.base import Accepted, OutgoingEmail
from dispatch.providers.smtp_email import SmtpEmail
from dispatch.settings import DispatchSettings
from tests.compose_helpers import BARE_WEDDING, LAYLA, MINIMAL, ZOE, composer
from tests.fakes.smtp import RunningSink, SmtpSink

TOKENS = UnsubscribeTokens(["test-secret"], max_age_days=400)
SENT_AT = datetime(2027, 4, 1, 15, 0, 7, tzinfo=UTC)
BOUNDARY = "===============4242424242424242424=="
LONG = GuestFacts(
    id=11,
    name="Jean-Émile de la Montagne-Saint-Hilaire-Beauregard du Château-Vieux " * 2,
    email="jean.emile.de.la.montagne.saint.hilaire@a-rather-long-domain.example.com",
)
QUOTED = GuestFacts(id=12, name='Dr. "Jr" O\'Brien, (the elder)', email="ob@example.com")
HAN = GuestFacts(id=13, name="李小龍", email="lee@example.com")


def _generated(parts: EmailParts, boundary: str) -> bytes:
    """What aiosmtplib's ``send_message`` sends for the built message."""
    message = parts.build()
    message.set_boundary(boundary)
    return flatten_message(message)


def _parts(compose: Composer, guest: GuestFacts, tracking: Tracking | None = None) -> EmailParts:
    return compose.email_parts(
        guest,
        campaign_id=42,
        tokens=TOKENS,
        public_base_url="https://comms.example.com",
        sent_at=SENT_AT,
        tracking=tracking,
    )


@pytest.mark.parametrize("template", ["invitation", "rsvp_reminder", "week_of"])
@pytest.mark.parametrize("guest", [ZOE, LAYLA, MINIMAL, LONG, QUOTED, HAN], ids=lambda g: g.name)
def test_every_template_and_guest_gives_the_generators_bytes(
    template: str, guest: GuestFacts
) -> None:
    for compose in (composer(template), composer(template, wedding=BARE_WEDDING)):
        parts = _parts(compose, guest)
        assert wire_bytes(parts.content, parts.envelope, parts.footer, BOUNDARY) == _generated(
            parts, BOUNDARY
        )


def test_subjects_with_the_guests_name_and_tracked_links_give_the_generators_bytes() -> None:
    compose = composer(
        "invitation",
        email_subject="Ein langer Betreff für {first_name}: Einladung zur Hochzeit, "
        "bitte antworte bis zum Stichtag — wir freuen uns sehr!",
    )
    tracking = Tracking(TrackingTokens(["test-secret"]), "https://comms.example.com", 99)
    for guest in (ZOE, LAYLA, LONG, HAN):
        parts = _parts(compose, guest, tracking)
        assert wire_bytes(parts.content, parts.envelope, parts.footer, BOUNDARY) == _generated(
            parts, BOUNDARY
        )


def test_random_parts_give_the_generators_bytes() -> None:
    rng = random.Random(8058)
    names = ["Zoë Ångström", "Bob", "  Ann  ", "a\nb", "x" * 90, "", "Ō" * 40, "A B " * 30]
    subjects = ["Save the date", "Save the date 🎉 Zoë!", "ü" * 120, "A " * 60, "two  spaces"]
    bodies = ["Hello", "Héllo\n\nthere\r\n", "", "x" * 1000, "line\n" * 50, "tab\there "]
    for n in range(300):
        token = "".join(
            rng.choice(string.ascii_letters + "-_.") for _ in range(rng.choice([5, 60]))
        )
        url = f"https://comms.example.com/u/{token}"
        envelope = Envelope(
            from_name=rng.choice(["Evergreen Weddings", "Café Crème Événements\nLtd"]),
            from_address="hello@evergreen.example.com",
            to_name=rng.choice(names),
            to_address=f"guest{n}@example.com",
            message_id=f"<gc.1.{n}@evergreen.example.com>",
            date=datetime(2027, 6, 1, 12, 0, n % 60, tzinfo=timezone(timedelta(hours=n % 5 - 2))),
            unsubscribe_url=url,
            unsubscribe_mailto=f"mailto:hello@evergreen.example.com?subject=unsubscribe%20{token}",
            lang=rng.choice(["en-US", "fr"]),
        )
        body = rng.choice(bodies)
        content = EmailContent(rng.choice(subjects), body, f"<p>{body}</p>")
        footer = Footer("Evergreen", "1 Main St\nSpringfield", envelope.to_name, "June 12", url)
        parts = EmailParts(content, envelope, footer)
        assert wire_bytes(content, envelope, footer, BOUNDARY) == _generated(parts, BOUNDARY)


def test_a_header_line_is_folded_as_the_policy_folds_it() -> None:
    values = [
        "x" * length + tail
        for length in (60, 64, 65, 66, 67, 90)
        for tail in ("", " ", "  y", "\ty", ",y", "; y")
    ] + [" lead", "trail ", "a\nb", "é", "", "a  b", "\x01"]
    for value in values:
        assert fold("Subject", value) == compat32.fold("Subject", value), repr(value)


def test_without_a_fixed_boundary_the_generator_would_pick_one_like_it() -> None:
    parts = _parts(composer("invitation"), ZOE)
    data = OutgoingEmail(parts, idempotency_key="d-1").wire()
    assert data is not None
    found = re.search(rb'boundary="(={15}\d{19}==)"', data.data)
    assert found is not None
    assert data.data == _generated(parts, found.group(1).decode())


def test_once_the_message_is_asked_for_it_is_the_message_that_goes() -> None:
    """A caller may change the Message (DKIM adds its signature): the bytes written
    from the parts would no longer be it."""
    email = OutgoingEmail(_parts(composer("invitation"), ZOE), idempotency_key="d-1")
    assert email.wire() is not None
    email.message["X-Changed"] = "yes"
    assert email.wire() is None
    assert email.message_id == "<gc.42.7@evergreen.example.com>"


async def test_smtp_receives_the_same_message_and_options_either_way() -> None:
    sink = SmtpSink()
    with RunningSink(sink) as running:
        provider = SmtpEmail(
            DispatchSettings(
                email_provider="smtp",
                smtp_host="127.0.0.1",
                smtp_port=running.port,
                smtp_starttls=False,
            )
        )
        parts = _parts(composer("invitation"), LAYLA)
        emails = [
            OutgoingEmail(parts, idempotency_key="d-1"),
            OutgoingEmail(parts.build(), idempotency_key="d-1"),
        ]
        async with provider.session() as session:
            outcomes = [outcome async for _, outcome in session.send_all(emails)]
    assert outcomes == [Accepted("<gc.42.8@evergreen.example.com>")] * 2
    written, generated = (re.sub(rb"={15}\d{19}==", b"B", raw) for raw in sink.raw)
    assert written == generated
    assert sink.mail_options[0] == sink.mail_options[1]
    assert "BODY=8BITMIME" in sink.mail_options[0]

"""GET|POST /u/{token} through the real app, on SQLite and PostgreSQL.

GET changes nothing; POST (a mail app's one click or the page's form)
suppresses before it answers and can be undone; bad links get a helpful
page and write nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse, FormData, web
from aiohttp.test_utils import TestClient
from sqlalchemy import delete, select

from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from handlers.address_masking import mask_email, mask_phone
from handlers.app import create_app
from handlers.metrics import METRICS
from handlers.middleware import CONTENT_SECURITY_POLICY
from store.database import Database
from store.enums import Channel, SuppressionReason
from store.models import AuditEntry, Guest
from store.repositories.suppressions import SuppressionLedger
from tests.factories import TEST_ACTOR
from tests.unsubscribe_harness import (
    CAMPAIGN_ID,
    EMAIL,
    MASKED_EMAIL,
    MASKED_PHONE,
    PHONE,
    SENDER_EMAIL,
    Seeded,
    active_suppressions,
    events,
    expired_tokens,
    row_counts,
    seed_guest,
)
from tests.web_harness import ClientFactory, app_settings

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@dataclass
class Site:
    client: TestClient[Any, Any]
    app: web.Application
    database: Database
    guest: Seeded

    async def get(self, token: str) -> tuple[ClientResponse, str]:
        response = await self.client.get(f"/u/{token}")
        return response, await response.text()

    async def post(self, token: str, data: dict[str, str]) -> tuple[ClientResponse, str]:
        response = await self.client.post(f"/u/{token}", data=data)
        return response, await response.text()

    def counter(self, name: str, **labels: str) -> float:
        value = self.app[METRICS].registry.get_sample_value(f"guestcomms_{name}_total", labels)
        return value or 0.0


@pytest.fixture
async def site(aiohttp_client: ClientFactory, database: Database) -> Site:
    guest = await seed_guest(database)
    app = create_app(app_settings(database.url.render_as_string(hide_password=False)))
    return Site(await aiohttp_client(app), app, database, guest)


def _assert_guest_page(response: ClientResponse, html: str, status: int) -> None:
    assert response.status == status
    assert response.content_type == "text/html"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert '<html lang="en">' in html
    assert "<main>" in html
    assert re.search(r"<title>[^<]{10,}</title>", html)
    assert '<link rel="stylesheet" href="/static/pages.css">' in html
    # The CSP allows neither, so none may be relied on.
    assert "<script" not in html
    assert "<style" not in html
    assert "style=" not in html
    assert "Traceback" not in html
    # Never the address in full, whichever channel the token names.
    for secret in (EMAIL, PHONE, PHONE[2:]):
        assert secret not in html


async def test_the_page_names_sender_and_wedding_masks_the_address_and_changes_nothing(
    site: Site,
) -> None:
    before = await row_counts(site.database)
    response, html = await site.get(site.guest.token())

    _assert_guest_page(response, html, 200)
    assert "Acme Weddings" in html
    assert "Ann &amp; Ben’s wedding" in html
    assert MASKED_EMAIL in html
    assert MASKED_PHONE in html
    assert "<fieldset>" in html
    assert "<legend>" in html
    for value in ("email", "sms", "both"):
        assert f'<label for="channel-{value}">' in html
        assert re.search(rf'<input type="radio" id="channel-{value}" name="channel"', html)
    assert re.search(r'value="email" checked>', html)  # the token's channel
    assert '<form method="post">' in html
    assert await row_counts(site.database) == before
    assert await active_suppressions(site.database) == []


async def test_an_sms_token_preselects_texts(site: Site) -> None:
    response, html = await site.get(site.guest.token(Channel.SMS))
    _assert_guest_page(response, html, 200)
    assert re.search(r'value="sms" checked>', html)


async def test_a_guest_with_only_an_email_gets_no_choice_of_channel(
    aiohttp_client: ClientFactory, database: Database
) -> None:
    guest = await seed_guest(database, phone=None)
    app = create_app(app_settings(database.url.render_as_string(hide_password=False)))
    client = await aiohttp_client(app)
    response = await client.get(f"/u/{guest.token()}")
    html = await response.text()
    assert response.status == 200
    assert "<fieldset>" not in html
    assert f"This stops emails to {MASKED_EMAIL}." in html
    assert '<input type="hidden" name="channel" value="email">' in html


async def test_one_click_unsubscribes_before_the_answer_arrives(site: Site) -> None:
    response = await site.client.post(f"/u/{site.guest.token()}", data=ONE_CLICK)
    # Read before the body: the commit precedes the answer.
    assert await active_suppressions(site.database) == [
        ("email", EMAIL, "unsubscribe", "unsubscribe_link")
    ]
    html = await response.text()
    _assert_guest_page(response, html, 200)
    assert "You are unsubscribed" in html
    assert f"Emails to {MASKED_EMAIL}" in html
    assert await events(site.database) == [
        (
            "guest.unsubscribed",
            {
                "guest_id": site.guest.guest_id,
                "wedding_id": site.guest.wedding_id,
                "campaign_id": CAMPAIGN_ID,
                "channel": "email",
            },
        )
    ]
    async with site.database.reading() as session:
        actors = set(await session.scalars(select(AuditEntry.actor)))
    assert f"guest:{site.guest.guest_id}" in actors
    assert site.counter("opt_outs", channel="email", reason="unsubscribe") == 1


async def test_one_click_on_an_sms_token_stops_texts_only(site: Site) -> None:
    response, _ = await site.post(site.guest.token(Channel.SMS), ONE_CLICK)
    assert response.status == 200
    assert await active_suppressions(site.database) == [
        ("sms", PHONE, "unsubscribe", "unsubscribe_link")
    ]


async def test_one_click_may_come_as_multipart(site: Site) -> None:
    # RFC 8058 allows either form encoding; some mail apps send multipart.
    form = FormData(ONE_CLICK, default_to_multipart=True)
    response = await site.client.post(f"/u/{site.guest.token()}", data=form)
    assert response.status == 200
    assert [row[:3] for row in await active_suppressions(site.database)] == [
        ("email", EMAIL, "unsubscribe")
    ]


async def test_the_pages_form_can_stop_both_channels(site: Site) -> None:
    response, html = await site.post(site.guest.token(), {"channel": "both"})
    _assert_guest_page(response, html, 200)
    assert await active_suppressions(site.database) == [
        ("email", EMAIL, "unsubscribe", "unsubscribe_link"),
        ("sms", PHONE, "unsubscribe", "unsubscribe_link"),
    ]
    assert [payload["channel"] for _, payload in await events(site.database)] == ["email", "sms"]
    assert MASKED_PHONE in html
    # The undo form carries the same choice back.
    assert '<input type="hidden" name="action" value="resubscribe">' in html
    assert '<input type="hidden" name="channel" value="both">' in html
    assert site.counter("opt_outs", channel="sms", reason="unsubscribe") == 1


async def test_unsubscribing_again_is_harmless(site: Site) -> None:
    token = site.guest.token()
    for _ in range(3):
        response, html = await site.post(token, ONE_CLICK)
        assert response.status == 200
        assert "You are unsubscribed" in html
    await site.post(token, {"channel": "email"})
    assert len(await active_suppressions(site.database)) == 1
    assert len(await events(site.database)) == 1
    assert site.counter("opt_outs", channel="email", reason="unsubscribe") == 1


async def test_undo_lifts_only_the_guests_own_unsubscribe(site: Site) -> None:
    async with site.database.transaction() as session:
        await SuppressionLedger(session).suppress(
            TEST_ACTOR,
            organisation_id=site.guest.organisation_id,
            channel=Channel.SMS,
            address=PHONE,
            reason=SuppressionReason.STOP,
            source="twilio_reply",
        )
    token = site.guest.token()
    await site.post(token, {"channel": "both"})

    response, html = await site.post(token, {"action": "resubscribe", "channel": "both"})

    _assert_guest_page(response, html, 200)
    assert "You are subscribed again" in html
    assert f"Emails to {MASKED_EMAIL}" in html
    assert "These stay stopped" in html
    assert f"Text messages to {MASKED_PHONE}" in html
    assert await active_suppressions(site.database) == [("sms", PHONE, "stop", "twilio_reply")]
    assert [kind for kind, _ in await events(site.database)] == [
        "guest.unsubscribed",
        "guest.resubscribed",
    ]
    assert site.counter("opt_ins", channel="email") == 1
    assert site.counter("opt_ins", channel="sms") == 0


async def test_undo_never_lifts_a_bounce(site: Site) -> None:
    async with site.database.transaction() as session:
        await SuppressionLedger(session).suppress(
            TEST_ACTOR,
            organisation_id=site.guest.organisation_id,
            channel=Channel.EMAIL,
            address=EMAIL,
            reason=SuppressionReason.BOUNCE,
            source="smtp",
        )
    response, html = await site.post(
        site.guest.token(), {"action": "resubscribe", "channel": "email"}
    )
    assert response.status == 200
    assert "Nothing changed" in html
    assert await active_suppressions(site.database) == [("email", EMAIL, "bounce", "smtp")]
    assert site.counter("opt_ins", channel="email") == 0


async def test_the_page_says_what_is_already_stopped(site: Site) -> None:
    await site.post(site.guest.token(), ONE_CLICK)
    _, html = await site.get(site.guest.token(Channel.SMS))
    assert f"Already stopped: emails to {MASKED_EMAIL}." in html


def _tampered(token: str) -> str:
    middle = len(token) // 2
    replacement = "A" if token[middle] != "A" else "B"
    return token[:middle] + replacement + token[middle + 1 :]


@pytest.mark.parametrize("kind", ["tampered", "garbage", "forged", "truncated"])
async def test_an_invalid_link_gets_a_helpful_400_and_writes_nothing(site: Site, kind: str) -> None:
    genuine = site.guest.token()
    token = {
        "tampered": _tampered(genuine),
        "garbage": "not-a-token",
        "forged": site.guest.token(tokens=UnsubscribeTokens(["another-secret"], 400)),
        "truncated": genuine[:-5],
    }[kind]
    before = await row_counts(site.database)
    for response, html in (await site.get(token), await site.post(token, ONE_CLICK)):
        _assert_guest_page(response, html, 400)
        assert "This unsubscribe link does not work" in html
        assert "Reply <strong>STOP</strong>" in html
    assert await row_counts(site.database) == before


async def test_an_expired_link_says_so_and_how_else_to_stop(site: Site) -> None:
    token = site.guest.token(tokens=expired_tokens())
    before = await row_counts(site.database)
    for response, html in (await site.get(token), await site.post(token, ONE_CLICK)):
        _assert_guest_page(response, html, 400)
        assert "This unsubscribe link is too old" in html
        assert "work for 400 days" in html
        assert "Reply <strong>STOP</strong> to a text message from Acme Weddings" in html
        assert f'<a href="mailto:{SENDER_EMAIL}">{SENDER_EMAIL}</a>' in html
    assert await row_counts(site.database) == before


async def test_an_erased_guest_gets_a_helpful_page(site: Site) -> None:
    async with site.database.transaction() as session:
        await session.execute(delete(Guest).where(Guest.id == site.guest.guest_id))
    before = await row_counts(site.database)
    token = site.guest.token()
    for response, html in (await site.get(token), await site.post(token, ONE_CLICK)):
        _assert_guest_page(response, html, 404)
        assert "We no longer have your details" in html
        assert SENDER_EMAIL in html
    assert await row_counts(site.database) == before


@pytest.mark.parametrize(
    "form",
    [{"channel": "pigeon"}, {"action": "explode"}, {"action": "resubscribe", "channel": ""}],
)
async def test_a_form_that_cannot_be_read_changes_nothing(site: Site, form: dict[str, str]) -> None:
    before = await row_counts(site.database)
    response, html = await site.post(site.guest.token(), form)
    _assert_guest_page(response, html, 400)
    assert "Nothing was changed" in html
    assert await row_counts(site.database) == before


@pytest.mark.parametrize("body", [b"channel=\xff\xfe", b"channel=%FF%FE"])
async def test_a_body_that_is_not_text_is_a_400_not_a_500(site: Site, body: bytes) -> None:
    before = await row_counts(site.database)
    response = await site.client.post(
        f"/u/{site.guest.token()}",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    html = await response.text()
    _assert_guest_page(response, html, 400)
    assert await row_counts(site.database) == before


async def test_the_stylesheet_is_served_from_our_own_origin(site: Site) -> None:
    response = await site.client.get("/static/pages.css")
    assert response.status == 200
    assert response.content_type == "text/css"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert ":focus-visible" in await response.text()


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane.doe@example.com", "j•••@example.com"),
        ("j@example.com", "j•••@example.com"),
        ("broken", "•••"),
    ],
)
def test_mask_email(address: str, masked: str) -> None:
    assert mask_email(address) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+14155554567", "•••• •••• 4567"),
        ("+447700900123", "•••• •••• 0123"),
        ("+123", "•••• ••••"),
    ],
)
def test_mask_phone(number: str, masked: str) -> None:
    assert mask_phone(number) == masked

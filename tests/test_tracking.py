"""Open and click tracking end to end: an admin turns it on in Slack, a campaign's emails
carry the image and rewritten links, guests' opens and clicks count (scanners do not),
links lead only where the message said, and the figures reach `/comms stats` and the
operator dashboard."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select, update

from dispatch.approval import approve_campaign
from handlers.api_tokens import ApiTokens
from handlers.app import create_app
from store.enums import CampaignState, Channel, Role
from store.models import AuditEntry, Delivery, EmailEngagement, Organisation
from tests.dispatch_harness import (
    APPROVER,
    Backend,
    draft_for_approval,
    midday_clock,
    wait_for_state,
)
from tests.following_helpers import demo
from tests.slack_harness import SlackBot, running_bot
from tests.web_harness import JWT_SECRET, ClientFactory, app_settings

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Mail"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
SAFE_LINKS = "Microsoft Defender SafeLinks scanner"
RSVP_LINK = "https://alexandsam.example.com/rsvp"


@pytest.fixture
async def bot(backend: Backend, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async with running_bot(
        backend.database, backend.url, tmp_path, midday_clock(), backend.redis_url
    ) as b:
        yield b


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def _path(url: str, bot: SlackBot) -> str:
    return url.removeprefix(bot.settings.dispatch.public_base_url)


async def _send_email_campaign(bot: SlackBot) -> int:
    found = await demo(bot)
    campaign_id = await draft_for_approval(
        bot.database,
        found.organisation_id,
        found.wedding_id,
        found.planner,
        channels=(Channel.EMAIL,),
    )
    await approve_campaign(bot.control, campaign_id, found.approver, APPROVER)
    await wait_for_state(bot.database, campaign_id, {CampaignState.COMPLETED})
    return campaign_id


async def test_tracked_email_end_to_end(
    bot: SlackBot, backend: Backend, aiohttp_client: ClientFactory
) -> None:
    # Off by default: viewers cannot turn it on, admins can (audited).
    async with bot.database.reading() as session:
        assert await session.scalar(select(Organisation.email_tracking)) is False
    await bot.command("org set tracking on", user="U_VIEWER")
    await bot.told("you need the owner or admin role", user="U_VIEWER")
    await bot.command("org set tracking sometimes", user="U_OWNER")
    await bot.told("neither on nor off", user="U_OWNER")
    await bot.command("org set tracking on", user="U_OWNER")
    await bot.said("set tracking of")
    async with bot.database.reading() as session:
        assert await session.scalar(select(Organisation.email_tracking)) is True
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "organisation.updated")
        )
    assert audit is not None
    assert audit.after == {"email_tracking": True}

    campaign_id = await _send_email_campaign(bot)
    sent = bot.fakes.smtp.messages
    assert sent
    text, html = _parts(sent[0])
    base = re.escape(bot.settings.dispatch.public_base_url)
    pixel = re.search(rf'<img src="({base}/t/o/[^"]+)" width="1" height="1" alt=""', html)
    click = re.search(rf'<a href="({base}/t/c/[^"]+)"', html)
    assert pixel is not None
    assert click is not None
    # The plain text and the unsubscribe link are as they were.
    assert RSVP_LINK in text
    assert "/t/" not in text
    assert re.search(rf'href="{base}/u/[^"]+"', html)
    assert RSVP_LINK not in html

    # Sent an hour ago (by either clock), so nothing is "too soon" by accident.
    an_hour_ago = min(datetime.now(UTC), bot.clock()) - timedelta(hours=1)
    async with bot.database.transaction() as session:
        await session.execute(
            update(Delivery).where(Delivery.sent_at.is_not(None)).values(sent_at=an_hour_ago)
        )

    http = bot.http
    scanned = await http.get(
        _path(click.group(1), bot), headers={"User-Agent": SAFE_LINKS}, allow_redirects=False
    )
    assert (scanned.status, scanned.headers["Location"]) == (302, RSVP_LINK)
    answer = await http.get(
        _path(click.group(1), bot), headers={"User-Agent": BROWSER}, allow_redirects=False
    )
    assert (answer.status, answer.headers["Location"]) == (302, RSVP_LINK)
    image = await http.get(_path(pixel.group(1), bot), headers={"User-Agent": GMAIL_PROXY})
    assert (image.status, image.content_type) == (200, "image/gif")
    assert image.headers["Cache-Control"].startswith("no-store")

    # A changed token never redirects: a plain page says the link does not work.
    token = click.group(1).rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    refused = await http.get(f"/t/c/{forged}", allow_redirects=False)
    assert refused.status == 400
    assert "Location" not in refused.headers
    assert "This link does not work" in await refused.text()
    assert (await http.get("/t/o/not-a-token")).status == 400

    async with bot.database.reading() as session:
        rows = list(await session.scalars(select(EmailEngagement).order_by(EmailEngagement.id)))
    assert [(r.kind, r.ignored_because) for r in rows] == [
        ("click", "scanner"),
        ("click", None),
        ("open", None),
    ]

    tracked = len(sent)
    await bot.command("stats", user="U_VIEWER")
    figures = await bot.said("Emails opened")
    one_of = f"{1 / tracked:.1%}"
    assert (
        f"Emails opened {one_of}, clicked {one_of} (of {tracked} tracked emails"
        in (figures["text"])
    )
    assert f"Campaign {campaign_id}" not in figures["text"]  # completed: not under way
    upload = await bot.wait_for(
        lambda: next((u for u in bot.fake.uploads.values() if u.get("comment")), None)
    )
    assert upload["content"].startswith(b"\x89PNG")
    assert f"Email {tracked}" in upload["alt_txt"]
    assert upload["comment"].startswith("Chart: Line chart")

    # The operator API of a web process with operator tokens configured.
    operator = await aiohttp_client(create_app(app_settings(backend.url, backend.redis_url)))
    admin = ApiTokens([JWT_SECRET]).issue(Role.ADMIN)
    response = await operator.get(
        "/api/admin/metrics/dashboard", headers={"Authorization": f"Bearer {admin}"}
    )
    body = await response.json()
    assert body["engagement"] == {
        "tracked_emails": tracked,
        "opened": 1,
        "clicked": 1,
        "open_rate": round(1 / tracked, 4),
        "click_rate": round(1 / tracked, 4),
    }
    assert body["delivery"]["email"]["delivery_rate"] == 1.0
    assert body["campaigns"]["by_state"] == {"completed": 1}


async def test_a_click_seconds_after_sending_is_not_counted(bot: SlackBot) -> None:
    await bot.command("org set tracking on", user="U_OWNER")
    await bot.said("set tracking of")
    await _send_email_campaign(bot)
    _, html = _parts(bot.fakes.smtp.messages[0])
    click = re.search(r'<a href="[^"]*(/t/c/[^"]+)"', html)
    assert click is not None
    async with bot.database.transaction() as session:
        await session.execute(
            update(Delivery).where(Delivery.sent_at.is_not(None)).values(sent_at=datetime.now(UTC))
        )
    answer = await bot.http.get(
        click.group(1), headers={"User-Agent": BROWSER}, allow_redirects=False
    )
    assert answer.status == 302
    async with bot.database.reading() as session:
        reason = await session.scalar(select(EmailEngagement.ignored_because))
    assert reason == "too_soon"


async def test_untracked_organisations_emails_carry_no_tracking(bot: SlackBot) -> None:
    await _send_email_campaign(bot)
    _, html = _parts(bot.fakes.smtp.messages[0])
    assert "/t/" not in html
    assert f'href="{RSVP_LINK}"' in html
    await bot.command("stats", user="U_VIEWER")
    figures = await bot.said("figures")
    assert (
        "Opens and clicks: not tracked (admins: `/comms org set tracking on`)" in (figures["text"])
    )

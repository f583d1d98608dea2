"""The unsubscribe pages in a real browser: axe-core finds no WCAG 2.1 A/AA violation,
the keyboard reaches the choices and then the button with a visible focus, and the
page works under its own CSP (stylesheet applied, nothing refused) without JavaScript.

The real app serves them over a socket, with its security headers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.async_api import Page, Response
from sqlalchemy import delete

from handlers.app import create_app
from handlers.middleware import CONTENT_SECURITY_POLICY
from store.database import Database
from store.models import Guest
from tests.browser import Focused, ServerFactory, Tab, axe_violations, open_tab, press_tab
from tests.unsubscribe_harness import (
    EMAIL,
    PHONE,
    Seeded,
    active_suppressions,
    expired_tokens,
    seed_guest,
)
from tests.web_harness import app_settings


@dataclass
class Site:
    base_url: str
    database: Database
    guest: Seeded

    def url(self, token: str) -> str:
        return f"{self.base_url}/u/{token}"


@pytest.fixture
async def site(aiohttp_server: ServerFactory, sqlite_database: Database) -> Site:
    guest = await seed_guest(sqlite_database)
    url = sqlite_database.url.render_as_string(hide_password=False)
    server = await aiohttp_server(create_app(app_settings(url)))
    return Site(str(server.make_url("")).rstrip("/"), sqlite_database, guest)


async def _assert_accessible(tab: Tab, response: Response | None, status: int) -> None:
    assert response is not None
    assert response.status == status
    assert await response.header_value("content-security-policy") == CONTENT_SECURITY_POLICY
    page = tab.page
    # The stylesheet loaded despite (through) the CSP: its layout is applied.
    max_width = await page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth")
    assert max_width == "576px"
    assert await page.title()
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.locator("main h1").count() == 1
    assert await axe_violations(page) == []
    assert tab.errors == []


def _assert_visible_focus(focused: Focused) -> None:
    assert focused.focus_visible
    assert focused.outline_style not in ("none", "hidden")
    assert focused.outline_width >= 2


async def _tab_through(page: Page) -> list[Focused]:
    """Every stop of the focus order from the top of the page, in order."""
    stops: list[Focused] = []
    for _ in range(10):
        focused = await press_tab(page)
        if focused.tag == "body" or (stops and focused == stops[0]):
            break
        stops.append(focused)
    return stops


async def test_unsubscribe_confirm_and_undo_by_keyboard(site: Site) -> None:
    async with open_tab() as tab:
        page = tab.page
        response = await page.goto(site.url(site.guest.token()))
        await _assert_accessible(tab, response, 200)

        stops = await _tab_through(page)
        # The radio group is one stop (the chosen radio), then the button.
        assert [(s.tag, s.type, s.value) for s in stops[:2]] == [
            ("input", "radio", "email"),
            ("button", "submit", ""),
        ]
        assert stops[0].checked
        for stop in stops:
            _assert_visible_focus(stop)

        # Choose "both" with the arrow keys, move on to the button, press it.
        await page.reload()
        await press_tab(page)
        await press_tab(page, "ArrowDown")
        chosen = await press_tab(page, "ArrowDown")
        assert (chosen.value, chosen.checked) == ("both", True)
        assert (await press_tab(page)).text == "Unsubscribe"
        async with page.expect_navigation() as navigation:
            await page.keyboard.press("Enter")
        await _assert_accessible(tab, await navigation.value, 200)
        assert "You are unsubscribed" in await page.inner_text("h1")
        assert [row[:2] for row in await active_suppressions(site.database)] == [
            ("email", EMAIL),
            ("sms", PHONE),
        ]

        undo = await press_tab(page)
        assert undo.text == "Subscribe me again"
        _assert_visible_focus(undo)
        async with page.expect_navigation() as navigation:
            await page.keyboard.press("Enter")
        await _assert_accessible(tab, await navigation.value, 200)
        assert "You are subscribed again" in await page.inner_text("h1")
        assert await active_suppressions(site.database) == []


@pytest.mark.parametrize("problem", ["invalid", "expired", "erased"])
async def test_pages_for_links_that_cannot_be_used(site: Site, problem: str) -> None:
    token = site.guest.token(tokens=expired_tokens()) if problem == "expired" else "not-a-token"
    if problem == "erased":
        token = site.guest.token()
        async with site.database.transaction() as session:
            await session.execute(delete(Guest).where(Guest.id == site.guest.guest_id))
    async with open_tab() as tab:
        response = await tab.page.goto(site.url(token))
        await _assert_accessible(tab, response, 404 if problem == "erased" else 400)

"""A real browser for tests of guests' pages: Debian's Chromium driven by Playwright, and axe-core.

``make browser`` installs Chromium with apt-get; Playwright and axe-core
(the ``axe.min.js`` that the axe-playwright-python package ships) come with
the dev extra, so nothing is downloaded at test time. Outside CI a missing
browser skips the test, saying why; under CI=true it fails the run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import ConsoleMessage, Page, async_playwright
from playwright.async_api import Response as PlaywrightResponse

from tests.services import IN_CI

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]

# The tags of WCAG 2.1 levels A and AA (axe-core's names).
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def chromium() -> Path:
    """The browser's executable; CHROMIUM_PATH overrides Debian's /usr/bin/chromium."""
    path = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    if path.is_file() and os.access(path, os.X_OK):
        return path
    message = f"no Chromium at {path}: `make browser` installs Debian's chromium"
    if IN_CI:
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


@dataclass
class Tab:
    """A browser page, and what its console reported (a CSP refusal is an error there)."""

    page: Page
    _console: list[tuple[str, str]] = field(default_factory=list)
    _documents: set[str] = field(default_factory=set)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self._console.append((message.text, message.location.get("url", "")))

    def _on_response(self, response: PlaywrightResponse) -> None:
        if response.request.resource_type == "document":
            self._documents.add(response.url)

    @property
    def errors(self) -> list[str]:
        """Console errors, less the browser's own notes that a page answered 4xx (tests
        ask for those on purpose) and its unprompted /favicon.ico request."""
        return [
            f"{text} ({url})"
            for text, url in self._console
            if not (text.startswith("Failed to load resource") and url in self._documents)
            and not url.endswith("/favicon.ico")
        ]


@asynccontextmanager
async def open_tab() -> AsyncIterator[Tab]:
    executable = chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(executable))
        try:
            page = await browser.new_page()
            tab = Tab(page)
            page.on("console", tab._on_console)
            page.on("response", tab._on_response)
            yield tab
        finally:
            await browser.close()


@cache
def _axe_script() -> str:
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


async def axe_violations(page: Page) -> list[str]:
    """WCAG 2.1 A and AA violations on the page, one readable line per element."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern.
    await page.evaluate(_axe_script())
    results: dict[str, Any] = await page.evaluate(
        "options => axe.run(document, options)",
        {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]},
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        f"{node['target']}: {node.get('failureSummary', '')}"
        for violation in results["violations"]
        for node in violation["nodes"]
    ]


@dataclass(frozen=True, slots=True)
class Focused:
    tag: str
    type: str
    name: str
    value: str
    checked: bool
    text: str
    focus_visible: bool
    outline_style: str
    outline_width: float


_FOCUSED = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  return {
    tag: element.tagName.toLowerCase(),
    type: element.getAttribute("type") || "",
    name: element.getAttribute("name") || "",
    value: element.getAttribute("value") || "",
    checked: Boolean(element.checked),
    text: (element.textContent || "").trim(),
    focus_visible: element.matches(":focus-visible"),
    outline_style: style.outlineStyle,
    outline_width: parseFloat(style.outlineWidth) || 0,
  };
}"""


async def press_tab(page: Page, key: str = "Tab") -> Focused:
    """Press a key as a keyboard user would; what has the focus then."""
    await page.keyboard.press(key)
    return Focused(**await page.evaluate(_FOCUSED))

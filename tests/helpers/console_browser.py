"""Chromium (Debian's package, no browser download) driven by Playwright for the console's browser tests: a page
that records script errors, CSP violations and refused requests; screenshots (``OMNIROUTER_SCREENSHOTS=1`` copies
them into docs/console/); the console's money format; and the check that no secret is left in the browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

from playwright.async_api import Locator, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"


class ConsolePage:
    """A Playwright page and what went wrong in it: ``problems`` (console errors other than failed loads, page
    errors) and ``failed`` (``(method, url, status)`` of answers of 400 and above)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        self.failed: list[tuple[str, str, int]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on(
            "response",
            lambda r: self.failed.append((r.request.method, r.url, r.status)) if r.status >= 400 else None,
        )

    def _console(self, message: object) -> None:
        kind, text = getattr(message, "type", ""), str(getattr(message, "text", ""))
        if kind == "error" and not text.startswith("Failed to load resource"):
            self.problems.append(text)


@asynccontextmanager
async def chromium_page(permissions: Sequence[str] = ()) -> AsyncIterator[ConsolePage]:
    """A fresh browser and page (1400×1000) with ``permissions`` granted (e.g. ``clipboard-read``)."""
    assert shutil.which(CHROMIUM), "install Debian's chromium (apt-get install chromium; .ci/run does)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            if permissions:
                await context.grant_permissions(list(permissions))
            opened = await context.new_page()
            opened.set_default_timeout(15_000)
            yield ConsolePage(opened)
        finally:
            await browser.close()


async def screenshot(page: Page, name: str, tmp_path: Path, mask: Sequence[Locator] = ()) -> None:
    """A full-page picture (secrets shown once masked); into docs/console/ too with ``OMNIROUTER_SCREENSHOTS=1``."""
    await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True, mask=list(mask))
    if os.environ.get("OMNIROUTER_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(tmp_path / f"{name}.png", DOCS / f"{name}.png")


def usd_text(value: float | Decimal) -> str:
    """The console's money format: cents, and sub-cent digits to a millionth when there are any."""
    whole, _, fraction = f"{Decimal(str(value)):.6f}".rstrip("0").partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


async def no_secret_in_browser(page: Page, *secrets: str) -> None:
    """Nothing in storage or script-readable cookies; no secret in the page, its URL or any cookie."""
    html = await page.content()
    storage = await page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}, document.cookie])")
    cookies = await page.context.cookies()
    assert storage == '[{},{},""]'
    for secret in secrets:
        assert secret not in html and secret not in page.url and secret not in storage
        assert all(secret not in cookie["value"] for cookie in cookies)
    assert all(cookie["httpOnly"] and cookie["sameSite"] == "Strict" for cookie in cookies)

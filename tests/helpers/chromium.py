"""A Playwright page in Debian's chromium (``/usr/bin/chromium``; no browser download) that records script
errors and Content-Security-Policy violations (``page.problems``) and answers of 400 and above
(``page.failed``)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator

from playwright.async_api import Page, async_playwright

CHROMIUM = "/usr/bin/chromium"


@contextlib.asynccontextmanager
async def chromium_page() -> AsyncIterator[Page]:
    """A fresh browser and page, closed at the end."""
    assert shutil.which(CHROMIUM), "install Debian's chromium (apt-get install chromium; .ci/run does)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            opened = await context.new_page()
            opened.set_default_timeout(15_000)
            problems: list[str] = []
            failed: list[tuple[str, str, int]] = []
            opened.on(
                "console",
                lambda message: (
                    problems.append(message.text)
                    if message.type == "error" and not message.text.startswith("Failed to load resource")
                    else None
                ),
            )
            opened.on("pageerror", lambda error: problems.append(str(error)))
            opened.on(
                "response",
                lambda response: (
                    failed.append((response.request.method, response.url, response.status))
                    if response.status >= 400
                    else None
                ),
            )
            opened.problems = problems  # type: ignore[attr-defined]
            opened.failed = failed  # type: ignore[attr-defined]
            yield opened
        finally:
            await browser.close()

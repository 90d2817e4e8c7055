"""The HTTP side of client webhooks (``tasks/webhooks.py`` signs and schedules; this only POSTs).

One session per sender, without cookies; every POST has a total timeout and follows no redirect (a
redirect could lead a checked target to an unchecked one); only the status is read.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

__all__ = ["WebhookPoster"]


class WebhookPoster:
    """POSTs a webhook body; ``post`` answers None on a 2xx, else why not (host and status, no query)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the session (a later ``post`` opens a new one)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def post(self, url: str, body: bytes, headers: dict[str, str], seconds: float) -> str | None:
        """One attempt, given ``seconds`` in all."""
        if self._session is None:
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        host = urlsplit(url).hostname or "?"
        try:
            limit = aiohttp.ClientTimeout(total=seconds)
            async with self._session.post(
                url, data=body, headers=headers, timeout=limit, allow_redirects=False
            ) as response:
                status = response.status
        except TimeoutError:
            return f"{host}: no answer within {seconds:g} s"
        except aiohttp.ClientError as exc:
            return f"{host}: connection failed ({type(exc).__name__})"
        return None if 200 <= status < 300 else f"{host} answered HTTP {status}"

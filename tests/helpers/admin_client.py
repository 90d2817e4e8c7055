"""A small client for the admin API and the client routes, for tests (real HTTP against a running gateway)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

ADMIN_KEY = "admin-key-for-accounts-tests-7781"


class Http:
    """JSON calls to one gateway: ``admin`` with the admin key, ``client`` with a client key."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def call(
        self, method: str, path: str, key: str | None, body: Any = None, *, raw: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body} if body is not None else {}
        async with self.session.request(method, self.base_url + path, headers=headers, **kwargs) as response:
            text = await response.text()
            return response.status, await response.json(content_type=None) if text else None

    async def admin(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None) -> tuple[int, Any]:
        return await self.call(method, path, ADMIN_KEY, body, raw=raw)

    async def chat(self, key: str, model: str = "gpt-4o-mini", text: str = "hi") -> tuple[int, Any]:
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        return await self.call("POST", "/v1/chat/completions", key, body)

    async def ledger_rows(self, key_id: int, count: int) -> list[dict[str, Any]]:
        """A key's ledger rows (``/admin/ledger``, newest first) once at least ``count`` have arrived."""
        for _ in range(200):
            status, page = await self.admin("GET", f"/admin/ledger?key_id={key_id}&limit=1000")
            assert status == 200, page
            if len(page["data"]) >= count:
                return page["data"]  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)
        raise AssertionError(f"key {key_id}'s ledger did not reach {count} rows")

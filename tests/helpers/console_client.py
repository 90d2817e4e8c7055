"""A console browser for HTTP-level tests: the session cookie and the CSRF token held by hand."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.helpers.gateway_harness import RunningGateway


class Browser:
    """One signed-in (or not) browser: sends its cookie on every request, the CSRF token when asked."""

    def __init__(self, session: aiohttp.ClientSession, gateway: RunningGateway) -> None:
        self.session = session
        self.url = gateway.url
        self.cookie: str | None = None  # "name=value"
        self.csrf: str | None = None
        self.set_cookie: str | None = None

    async def sign_in(self, key: str, **headers: str) -> tuple[int, Any]:
        status, body, response_headers = await self.request("POST", "/dashboard/api/session", {"key": key}, **headers)
        self.set_cookie = response_headers.get("set-cookie")
        if status == 200 and self.set_cookie:
            self.cookie = self.set_cookie.split(";", 1)[0]
            self.csrf = body["csrf_token"]
        return status, body

    async def sign_in_user(self, user: str, password: str, **headers: str) -> tuple[int, Any]:
        """Sign in as a user with a name and password (the same form, the same cookie)."""
        body = {"user": user, "password": password}
        status, answer, response_headers = await self.request("POST", "/dashboard/api/session", body, **headers)
        self.set_cookie = response_headers.get("set-cookie")
        if status == 200 and self.set_cookie:
            self.cookie = self.set_cookie.split(";", 1)[0]
            self.csrf = answer["csrf_token"]
        return status, answer

    async def request(
        self, method: str, path: str, body: Any = None, *, csrf: bool | str = False, **headers: str
    ) -> tuple[int, Any, Any]:
        sent = {name.replace("_", "-"): value for name, value in headers.items()}
        if self.cookie:
            sent["cookie"] = self.cookie
        if csrf:
            sent["x-csrf-token"] = csrf if isinstance(csrf, str) else self.csrf or ""
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        async with self.session.request(method, self.url + path, headers=sent, **kwargs) as response:
            text = await response.text()
            parsed = await response.json(content_type=None) if text and text[0] in "[{" else text
            return response.status, parsed, response.headers

    async def call(self, method: str, path: str, body: Any = None, *, csrf: bool | str = False) -> tuple[int, Any]:
        status, parsed, _ = await self.request(method, path, body, csrf=csrf)
        return status, parsed

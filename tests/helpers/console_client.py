"""The console over HTTP for tests: a browser whose session cookie and CSRF token are held by hand, and a gateway
on SQLite or PostgreSQL with a cookie-less client session to make such browsers from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from omnirouter.config import GatewayConfig
from tests.helpers.admin_client import Http
from tests.helpers.gateway_harness import RunningGateway, running_gateway
from tests.helpers.postgres import reset_postgres


class Browser:
    """One signed-in (or not) browser: sends its cookie on every request, the CSRF token when asked."""

    def __init__(self, session: aiohttp.ClientSession, gateway: RunningGateway) -> None:
        self.session = session
        self.url = gateway.url
        self.cookie: str | None = None  # "name=value"
        self.csrf: str | None = None
        self.set_cookie: str | None = None

    async def sign_in(self, key: str, **headers: str) -> tuple[int, Any]:
        """Sign in with a key (the admin key or a client key)."""
        return await self._sign_in({"key": key}, headers)

    async def sign_in_user(self, user: str, password: str, **headers: str) -> tuple[int, Any]:
        """Sign in as a user with a name and password (the same form, the same cookie)."""
        return await self._sign_in({"user": user, "password": password}, headers)

    async def _sign_in(self, form: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        status, body, response_headers = await self.request("POST", "/dashboard/api/session", form, **headers)
        self.set_cookie = response_headers.get("set-cookie")
        if status == 200 and self.set_cookie:
            self.cookie = self.set_cookie.split(";", 1)[0]
            self.csrf = body["csrf_token"]
        return status, body

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


class ConsoleGateway:
    """A running gateway, its config, and a client session without a cookie jar (browsers hold their cookies)."""

    def __init__(self, gateway: RunningGateway, session: aiohttp.ClientSession, config: GatewayConfig) -> None:
        self.gateway, self.session, self.config = gateway, session, config
        self.http = Http(session, gateway.url)

    def browser(self) -> Browser:
        return Browser(self.session, self.gateway)


@asynccontextmanager
async def console_gateway(config: GatewayConfig, backend: str, postgres_url: str) -> AsyncIterator[ConsoleGateway]:
    """``config`` served on ``backend`` (``sqlite``, or ``postgresql``: a fresh database of the test module's)."""
    if backend == "postgresql":
        config.database_url = await reset_postgres(postgres_url)
    async with (
        running_gateway(config) as gateway,
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session,
    ):
        yield ConsoleGateway(gateway, session, config)
